//! Logging set-up: env_logger's text lines (the default), or `--log-format json`: one JSON object per line with
//! `time`, `level`, `target`, `message` and the record's fields (the access log's `request_id`, `method`,
//! `route`, `status`, `latency_ms`, `credential`, `peer`).

use clap::ValueEnum;
use serde_json::{Map, Value};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

struct Fields<'m>(&'m mut Map<String, Value>);

impl<'kvs> log::kv::VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: log::kv::Key<'kvs>, value: log::kv::Value<'kvs>) -> Result<(), log::kv::Error> {
        let v = if let Some(n) = value.to_u64() {
            Value::from(n)
        } else if let Some(n) = value.to_i64() {
            Value::from(n)
        } else if let Some(f) = value.to_f64() {
            Value::from(f)
        } else if let Some(b) = value.to_bool() {
            Value::from(b)
        } else {
            Value::String(value.to_string())
        };
        self.0.insert(key.to_string(), v);
        Ok(())
    }
}

pub fn init(format: LogFormat) {
    let mut builder = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if format == LogFormat::Json {
        builder.format(|buf, record| {
            let mut line = Map::new();
            line.insert("time".into(), Value::String(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()));
            line.insert("level".into(), Value::String(record.level().to_string()));
            line.insert("target".into(), Value::String(record.target().to_string()));
            line.insert("message".into(), Value::String(record.args().to_string()));
            let _ = record.key_values().visit(&mut Fields(&mut line));
            writeln!(buf, "{}", Value::Object(line))
        });
    }
    builder.init();
}
