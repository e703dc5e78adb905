# Sourced by scripts that drive a cargo subcommand: `ensure_cargo_tool CRATE SUBCOMMAND VERSION` installs
# that exact version from crates.io (--locked) unless `cargo SUBCOMMAND --version` already reports it.
ensure_cargo_tool() {
  local crate="$1" subcommand="$2" version="$3"
  if ! cargo "$subcommand" --version 2>/dev/null | grep -q "$version"; then
    echo "$crate: installing $version from crates.io (once per machine)"
    cargo install --locked --quiet "$crate" --version "$version"
  fi
}
