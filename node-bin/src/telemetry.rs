//! Logging and tracing: the `tracing` subscriber (text or JSON lines on stderr, filtered by
//! `--log`) and, with `--otlp-endpoint`, span export over OTLP/HTTP (protobuf) through
//! tracing-opentelemetry. The batch exporter runs on its own thread; [`Telemetry::shutdown`]
//! flushes it before the process exits.

use crate::cli::{LogArgs, LogFormat};
use crate::error::NodeError;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

/// Keeps the span exporter alive; flush it with [`shutdown`](Self::shutdown).
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is still queued and stops the exporter (blocks up to a few seconds).
    pub fn shutdown(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("otlp: flushing spans failed: {e}");
        }
    }
}

/// The collector's base URL (as `OTEL_EXPORTER_OTLP_ENDPOINT`), or the traces URL itself.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") { base.to_string() } else { format!("{base}/v1/traces") }
}

fn provider(endpoint: &str) -> Result<SdkTracerProvider, NodeError> {
    if !endpoint.starts_with("http://") {
        return Err(NodeError::Usage(format!("--otlp-endpoint {endpoint}: an http:// URL (OTLP/HTTP, no TLS)")));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint))
        .with_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| NodeError::Usage(format!("--otlp-endpoint: {e}")))?;
    let resource = Resource::builder().with_service_name("phantom-node").build();
    Ok(SdkTracerProvider::builder().with_resource(resource).with_batch_exporter(exporter).build())
}

/// Installs the global subscriber. A bad filter falls back to `info`.
pub fn init(args: &LogArgs) -> Result<Telemetry, NodeError> {
    let filter = EnvFilter::try_new(&args.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (json, text) = match args.log_format {
        LogFormat::Json => (Some(fmt::layer().json().with_writer(std::io::stderr)), None),
        LogFormat::Text => (None, Some(fmt::layer().with_ansi(ansi).with_writer(std::io::stderr))),
    };
    let provider = args.otlp_endpoint.as_deref().map(provider).transpose()?;
    let otel = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("phantom-node")));
    tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(text)
        .with(otel)
        .try_init()
        .map_err(|e| NodeError::Usage(format!("logging: {e}")))?;
    Ok(Telemetry { provider })
}
