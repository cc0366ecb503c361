//! The process: [`App::build`] wires the parts from a [`Config`] (store,
//! channels, renderer, inbox, dispatcher, the shared [`AppState`]);
//! [`App::run_until_stopped`] runs the HTTP server, the workers and the
//! background tasks and stops them in order. `main.rs` and the tests both
//! use it, so a test runs the same wiring as production. This is the only
//! module that knows every other one.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::channels::in_app::InAppChannel;
use crate::channels::webhook::{generate_secret, WebhookChannel};
use crate::channels::Channels;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::service::AppState;
use crate::store::Store;
use crate::{
    config, dispatch, flow, http, inbox, metrics, private_files, render, service, store, util,
};

/// Which parts of missive a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// API and workers (the default).
    Serve,
    Api,
    Worker,
}

pub struct App {
    state: AppState,
    listener: Option<TcpListener>,
    dispatcher: Option<Dispatcher>,
    /// Cancelled to ask for a stop (see [`App::run_until_stopped`]).
    shutdown: CancellationToken,
    /// Stops the HTTP server and ends open streams, after the drain.
    stop_http: CancellationToken,
    /// Stops the workers and background tasks, once the server is done.
    stop_work: CancellationToken,
    /// The admin key made on first start, if this start made it.
    pub first_admin_key: Option<String>,
}

/// Writes a secret file readable by its owner only.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        private_files::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f =
        private_files::create_file(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}

/// On first start (no API keys at all), makes an admin key and writes it to
/// `DATA_DIR/admin.key`. Only one of several instances starting together
/// does so.
pub async fn bootstrap_admin_key(
    store: &dyn Store,
    cfg: &Config,
) -> anyhow::Result<Option<String>> {
    if store.count_active_keys().await? > 0 {
        return Ok(None);
    }
    let (_, first) = store
        .setting_init("bootstrap_admin_key", &util::now_ms().to_string())
        .await?;
    if !first {
        return Ok(None);
    }
    let (key, _) = service::auth::create_key(store, "admin (first start)", "admin").await?;
    write_private(&cfg.data_dir.join("admin.key"), &key)?;
    Ok(Some(key))
}

/// The webhook signing secret: from config, else the one stored in the
/// database, else a new one (stored, and written to the data dir).
pub async fn signing_secret(store: &dyn Store, cfg: &Config) -> anyhow::Result<String> {
    if !cfg.webhook.signing_secret.is_empty() {
        return Ok(cfg.webhook.signing_secret.clone());
    }
    let (secret, created) = store
        .setting_init("webhook_signing_secret", &generate_secret())
        .await?;
    if created {
        write_private(&cfg.data_dir.join("webhook-signing-secret"), &secret)?;
        tracing::info!(
            path = %cfg.data_dir.join("webhook-signing-secret").display(),
            "generated the webhook signing secret"
        );
    }
    Ok(secret)
}

/// The generated VAPID key (base64 PKCS#8), when a `webpush` provider has
/// none of its own: the one stored in the database, else a new one (stored,
/// and written to the data dir).
pub async fn vapid_key(store: &dyn Store, cfg: &Config) -> anyhow::Result<Option<String>> {
    if !crate::channels::push::needs_generated_key(&cfg.push) {
        return Ok(None);
    }
    let (key, created) = store
        .setting_init("vapid_private_key", &crate::channels::push::new_key()?)
        .await?;
    let path = cfg.data_dir.join(crate::channels::push::VAPID_KEY_FILE);
    if created || !path.exists() {
        write_private(&path, &key)?;
        tracing::info!(path = %path.display(), "generated the VAPID key for Web Push");
    }
    Ok(Some(key))
}

/// The channels sent through providers; `in_app` and `push` (which need
/// the database) are added by [`App::build`].
pub fn channels(cfg: &Config) -> anyhow::Result<Channels> {
    let mut channels = Channels::default();
    channels.add(Arc::new(WebhookChannel::new(cfg.webhook.clone())?));
    if let Some(email) = crate::channels::email::build(&cfg.email, cfg)? {
        channels.add(email);
    }
    if let Some(sms) = crate::channels::sms::build(&cfg.sms, cfg)? {
        channels.add(sms);
    }
    if let Some(chat) = crate::channels::chat::build(&cfg.chat, cfg)? {
        channels.add(chat);
    }
    Ok(channels)
}

impl App {
    pub async fn build(mut config: Config, role: Role) -> anyhow::Result<App> {
        private_files::private_dir(&config.data_dir)
            .with_context(|| format!("creating data_dir {}", config.data_dir.display()))?;
        let store = store::open(&config.database).await.with_context(|| {
            format!(
                "opening the database {}",
                config::redact_url(&config.database.url)
            )
        })?;
        let first_admin_key = bootstrap_admin_key(store.as_ref(), &config).await?;
        config.webhook.signing_secret = signing_secret(store.as_ref(), &config).await?;
        let shutdown = CancellationToken::new();
        let stop_work = CancellationToken::new();
        let stop_http = stop_work.child_token();
        let inbox = inbox::Inbox::open(store.clone(), &config.inbox, stop_http.clone()).await?;
        let mut channels = channels(&config)?;
        channels.add(Arc::new(InAppChannel::new(inbox.clone())));
        let vapid = vapid_key(store.as_ref(), &config).await?;
        channels.add(crate::channels::push::build(
            &config.push,
            &config,
            store.clone(),
            vapid.as_deref(),
        )?);
        let providers = flow::provider_state::ProviderBoard::new(store.clone());
        for c in channels.all() {
            c.share_provider_state(&providers);
        }
        let metrics = Arc::new(metrics::Metrics::new());
        let state = AppState::new(service::Parts {
            store: store.clone(),
            renderer: Arc::new(render::Renderer::new(&config.render)),
            enabled_channels: Arc::new(channels.enabled()),
            keys: Arc::new(service::auth::KeyCache::new(config.server.api_rate_limit)),
            inbox,
            channels: Arc::new(channels.clone()),
            providers,
            config: Arc::new(config.clone()),
            metrics: metrics.clone(),
            day_counts: Arc::default(),
            stopping: shutdown.clone(),
        });
        let listener = match role {
            Role::Worker => None,
            _ => Some(
                TcpListener::bind(config.server.bind)
                    .await
                    .with_context(|| {
                        format!("listening on {} (server.bind)", config.server.bind)
                    })?,
            ),
        };
        let dispatcher = match role {
            Role::Api => None,
            _ => Some(
                Dispatcher::new(
                    store,
                    channels,
                    config.worker.clone(),
                    config.flow.rate_limits.clone(),
                )
                .with_metrics(metrics)
                .with_runs(state.clone()),
            ),
        };
        Ok(App {
            state,
            listener,
            dispatcher,
            shutdown,
            stop_http,
            stop_work,
            first_admin_key,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Cancel this to stop the app gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Cancel this once stopping to end the drain early (a second signal).
    pub fn skip_drain_token(&self) -> CancellationToken {
        self.stop_http.clone()
    }

    /// Runs until the shutdown token is cancelled, then stops in order:
    /// `/readyz` answers 503 at once while requests are still served for
    /// `server.shutdown_drain`; then the listener closes, idle connections
    /// are closed and in-flight requests finish; then the workers stop
    /// claiming and finish their in-flight deliveries.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let state = self.state;
        let (stop_http, stop_work) = (self.stop_http, self.stop_work);
        let mut tasks = tokio::task::JoinSet::new();
        let cfg = state.config.clone();
        tasks.spawn(state.providers.clone().run(stop_work.clone()));
        tasks.spawn(dispatch::events::refresh_subscriptions(
            state.store.clone(),
            cfg.events.refresh,
            stop_work.clone(),
        ));
        if let Some(d) = self.dispatcher {
            tasks.spawn(d.run(stop_work.clone()));
            tasks.spawn(dispatch::maintenance::run(
                state.store.clone(),
                cfg.maintenance.clone(),
                stop_work.clone(),
            ));
            tasks.spawn(dispatch::schedules::run(
                state.clone(),
                cfg.worker.schedule_tick,
                stop_work.clone(),
            ));
            let events = dispatch::events::EventSender::new(
                state.store.clone(),
                &cfg,
                state.metrics.clone(),
            )?;
            tasks.spawn(events.run(stop_work.clone()));
        }
        let has_listener = self.listener.is_some();
        if has_listener {
            // Other processes' inbox changes, for the streams this one holds.
            tasks.spawn(state.inbox.clone().listen());
            // The queue gauges are there from the first scrape on.
            if let Err(e) = state.metrics.count_queue(state.store.as_ref()).await {
                tracing::warn!(error = %e, "counting the queue for /metrics failed");
            }
            tasks.spawn(metrics::refresh_gauges(
                state.metrics.clone(),
                state.store.clone(),
                cfg.server.metrics_refresh,
                stop_work.clone(),
            ));
        }
        let server = self.listener.map(|l| {
            let app = router(state.clone());
            let s = stop_http.clone();
            let cfg = cfg.clone();
            tokio::spawn(async move { http::server::serve(l, app, &cfg.server, s).await })
        });
        self.shutdown.cancelled().await;
        if has_listener && !cfg.server.shutdown_drain.is_zero() {
            tracing::info!(
                drain = %humantime::format_duration(cfg.server.shutdown_drain),
                "stopping: /readyz answers 503; requests are served until the drain ends"
            );
            tokio::select! {
                _ = tokio::time::sleep(cfg.server.shutdown_drain) => {}
                _ = stop_http.cancelled() => {}
            }
        }
        stop_http.cancel();
        if let Some(server) = server {
            server.await?;
        }
        stop_work.cancel();
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// The whole HTTP surface: the API (with `/openapi.json`), the console and
/// `/metrics`, behind the limits and headers every answer gets.
pub fn router(state: AppState) -> axum::Router {
    let limit = state.config.server.max_body_bytes;
    let (routes, _) = http::routes(&state.config.inbox.cors_origins).split_for_parts();
    routes
        .merge(crate::console::router())
        .merge(http::metrics::router())
        .fallback(|| async { http::error::ApiError::NotFound(http::NOT_FOUND.into()) })
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), frame))
        .with_state(state)
}

/// What every answer passes through: one span per request, named by the
/// matched route (not the raw path, so ids don't explode the
/// cardinality), and its duration in the metrics; `X-Content-Type-Options:
/// nosniff` on every answer, and the console's own headers on its pages
/// ([`crate::console::security_headers`]). One layer rather than three:
/// each layer is a boxed service cloned and a boxed future made per
/// request.
async fn frame(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let console = crate::console::serves(req.uri().path());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    if console {
        crate::console::security_headers(resp.headers_mut());
    }
    let status = resp.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, route, status, ms, "request");
    } else {
        tracing::debug!(%method, route, status, ms, "request");
    }
    let method = crate::metrics::method_label(&method);
    state
        .metrics
        .http_request(method, route, status, started.elapsed());
    resp
}
