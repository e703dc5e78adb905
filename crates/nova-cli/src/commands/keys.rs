//! `nova keys create|list|revoke`: API keys in the data folder, through the engine (as the local
//! administrator). Safe while `nova serve` runs: the key file is locked and replaced atomically.

use super::Outcome;
use crate::cli::{KeyCreateArgs, KeyListArgs, KeyRevokeArgs};
use anyhow::{anyhow, bail, Result};
use nova_engine::{Engine, KbName, KeyInfo, KeySpec, RequestCtx, Role};
use std::time::Duration;

/// `90d`, `12h`, `30m` or `45s`.
fn parse_duration(spec: &str) -> Result<Duration> {
    let spec = spec.trim();
    let (number, unit) = spec.split_at(spec.len().saturating_sub(1));
    let n: u64 = number
        .parse()
        .map_err(|_| anyhow!("`{spec}` is not a duration like 90d, 12h, 30m or 45s"))?;
    let secs = match unit {
        "d" => n.saturating_mul(86_400),
        "h" => n.saturating_mul(3_600),
        "m" => n.saturating_mul(60),
        "s" => n,
        _ => bail!("`{spec}` is not a duration like 90d, 12h, 30m or 45s"),
    };
    Ok(Duration::from_secs(secs))
}

fn describe(k: &KeyInfo) -> String {
    let kbs = if k.kbs.is_empty() {
        "all KBs".to_owned()
    } else {
        k.kbs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let state = match (k.revoked_at, k.expires_at) {
        (Some(_), _) => "revoked".to_owned(),
        (None, Some(t)) => format!("expires {t}"),
        (None, None) => "active".to_owned(),
    };
    format!(
        "{}\tnova_{}_…\t{}\t{kbs}\tgroups {}\t{state}",
        k.name,
        k.id,
        k.role.as_str(),
        if k.groups.is_empty() {
            "-".to_owned()
        } else {
            k.groups.join(",")
        }
    )
}

pub fn create(engine: &Engine, args: &KeyCreateArgs) -> Result<Outcome> {
    let role: Role = args.role.parse().map_err(|e: String| anyhow!(e))?;
    let spec = KeySpec {
        name: args.name.clone(),
        role,
        kbs: args
            .kbs
            .iter()
            .map(|k| KbName::parse(k))
            .collect::<Result<_, _>>()?,
        groups: args.groups.clone(),
        expires_in: args.expires_in.as_deref().map(parse_duration).transpose()?,
        rate: args
            .rate
            .as_deref()
            .map(|r| r.parse::<nova_auth::Rate>().map_err(|e| anyhow!(e)))
            .transpose()?,
        daily_quota: args.daily_quota,
    };
    let new = engine.create_key(&RequestCtx::local(), &spec)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "key": new.secret, "info": new.info })
        );
    } else {
        eprintln!("created {}", describe(&new.info));
        eprintln!("the key is shown only now; send it as `Authorization: Bearer <key>`:");
        println!("{}", new.secret);
    }
    Ok(Outcome::Done)
}

pub fn list(engine: &Engine, args: &KeyListArgs) -> Result<Outcome> {
    let keys = engine.list_keys(&RequestCtx::local())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&keys)?);
    } else if keys.is_empty() {
        println!("no keys (create one with `nova keys create --name NAME --role admin`)");
    } else {
        for k in &keys {
            println!("{}", describe(k));
        }
    }
    Ok(Outcome::Done)
}

pub fn revoke(engine: &Engine, args: &KeyRevokeArgs) -> Result<Outcome> {
    let info = engine.revoke_key(&RequestCtx::local(), &args.name)?;
    println!("revoked `{}` (nova_{}_…)", info.name, info.id);
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_days_hours_minutes_and_seconds() {
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1_800));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
