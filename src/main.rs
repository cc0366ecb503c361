//! The `missive` command: parse, load config, call into the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use missive::domain::Channel;
use missive::service::send::{RecipientInput, SendRequest, Sender};
use missive::{App, Config, Role};

/// mimalloc instead of glibc's malloc: the server allocates and frees many
/// small buffers per request across threads (decision 0017).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "missive",
    version,
    about = "A self-hosted, multi-channel notification dispatcher"
)]
struct Cli {
    /// A TOML file overriding config/default.toml (env MISSIVE__* overrides both).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print only what a script needs: no informational output, log lines
    /// of level warn and above only. Errors still go to stderr; exit codes
    /// are unchanged.
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the workers in one process (the default).
    Serve,
    /// Run the API only.
    Api,
    /// Run the workers only.
    Worker,
    /// Create or upgrade the database, then exit.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Enqueue a notification from the shell.
    Send(SendArgs),
    /// Manage templates.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// Check the configuration, the database, the data dir, the clock and
    /// every provider, without sending anything; exits 1 if a check fails.
    Doctor {
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy the SQLite database to PATH (consistent, while missive runs).
    Backup {
        path: PathBuf,
        /// Replace PATH if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the API's OpenAPI document (the one served at /openapi.json)
    /// as JSON, without a server, a database or a configuration.
    Openapi,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; it is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated: send, templates, read, admin.
        #[arg(long)]
        scopes: String,
    },
    /// List keys (prefix, scopes, last use; never the key).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Import DIR/<key>/<channel>.<part>[.<locale>].hbs; a changed template
    /// becomes a new version.
    Import { dir: PathBuf },
}

#[derive(clap::Args)]
struct SendArgs {
    /// A stored template's key.
    #[arg(long)]
    template: Option<String>,
    /// Inline content as JSON, shaped like a template's channels.
    #[arg(long)]
    content: Option<String>,
    /// A webhook URL to deliver to (repeatable).
    #[arg(long = "to-webhook")]
    to_webhook: Vec<String>,
    /// Recipients as JSON (the `to` array of the API).
    #[arg(long)]
    to: Option<String>,
    /// The data the template is rendered with, as a JSON object.
    #[arg(long, default_value = "{}")]
    data: String,
    /// Channels to use (repeatable); defaults to webhook with --to-webhook.
    #[arg(long = "channel")]
    channels: Vec<String>,
    #[arg(long)]
    category: Option<String>,
    #[arg(long)]
    priority: Option<String>,
    #[arg(long)]
    idempotency_key: Option<String>,
}

/// Informational output, left out with `--quiet`.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

macro_rules! say {
    ($($t:tt)*) => {
        if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
            println!($($t)*);
        }
    };
}

async fn open_store(cfg: &Config) -> anyhow::Result<std::sync::Arc<dyn missive::store::Store>> {
    missive::private_files::private_dir(&cfg.data_dir)
        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    missive::store::open(&cfg.database).await.with_context(|| {
        format!(
            "opening the database {}",
            missive::config::redact_url(&cfg.database.url)
        )
    })
}

async fn serve(cfg: Config, role: Role) -> anyhow::Result<()> {
    let app = App::build(cfg, role).await?;
    if let Some(key) = &app.first_admin_key {
        println!("First start: created an admin API key. It is shown once; a copy is in the data dir (admin.key, mode 0600):\n\n    {key}\n");
    }
    if let Some(addr) = app.local_addr() {
        tracing::info!(%addr, ?role, "missive is listening");
    } else {
        tracing::info!(?role, "missive worker started");
    }
    // Built, migrated and listening: ready for systemd (Type=notify).
    missive::ops::notify::ready();
    let token = app.shutdown_token();
    let skip_drain = app.skip_drain_token();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .expect("SIGINT handler");
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!(
            "shutting down: not ready from now on; open requests and in-flight deliveries finish"
        );
        missive::ops::notify::stopping();
        token.cancel();
        // A second signal: no more waiting for the drain.
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("second signal: closing the listener now");
        skip_drain.cancel();
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn send(cfg: Config, args: SendArgs) -> anyhow::Result<()> {
    let mut to: Vec<RecipientInput> = match &args.to {
        Some(json) => {
            serde_json::from_str(json).context("--to must be a JSON array of recipients")?
        }
        None => Vec::new(),
    };
    for url in &args.to_webhook {
        to.push(RecipientInput {
            webhook_url: Some(url.clone()),
            ..Default::default()
        });
    }
    let channels = if !args.channels.is_empty() {
        Some(args.channels.clone())
    } else if !args.to_webhook.is_empty() && args.to.is_none() {
        Some(vec![Channel::Webhook.to_string()])
    } else {
        None
    };
    let req = SendRequest {
        template: args.template,
        content: match &args.content {
            Some(c) => Some(
                serde_json::from_str(c).context("--content must be a JSON object of channels")?,
            ),
            None => None,
        },
        to,
        data: Some(serde_json::from_str(&args.data).context("--data must be JSON")?),
        channels,
        category: args.category,
        priority: args.priority,
        ..Default::default()
    };
    let store = open_store(&cfg).await?;
    let renderer = missive::render::Renderer::new(&cfg.render);
    let mut enabled: Vec<Channel> = missive::channels(&{
        let mut c = cfg.clone();
        c.webhook.signing_secret = missive::channels::webhook::generate_secret();
        c
    })?
    .enabled();
    enabled.push(Channel::InApp);
    let sender = Sender::new(store.as_ref(), &renderer, &enabled, &cfg);
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            serde_json::to_string(&req)?.as_bytes(),
        ))
    };
    let idem = args
        .idempotency_key
        .as_deref()
        .map(|k| ("cli", k, hash.as_str()));
    match sender.send(req, None, idem).await {
        Ok(answer) => {
            println!("{}", answer.body);
            Ok(())
        }
        Err(missive::service::Error::Invalid(errors)) => {
            for e in errors {
                eprintln!("{}: {}", e.field, e.message);
            }
            anyhow::bail!("the notification was not accepted")
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

async fn run(cli: Cli, cfg: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cfg, Role::Serve).await,
        Command::Api => serve(cfg, Role::Api).await,
        Command::Worker => serve(cfg, Role::Worker).await,
        Command::Migrate => {
            open_store(&cfg).await?;
            say!("database is up to date");
            Ok(())
        }
        Command::Keys { command } => {
            let store = open_store(&cfg).await?;
            match command {
                KeysCommand::Create { name, scopes } => {
                    let (key, row) =
                        missive::service::auth::create_key(store.as_ref(), &name, &scopes)
                            .await
                            .map_err(|e| anyhow::anyhow!(e.detail()))?;
                    println!(
                        "id:     {}\nscopes: {}\nkey:    {key}\n(the key is shown only now)",
                        row.id, row.scopes
                    );
                }
                KeysCommand::List => {
                    println!(
                        "{:<38} {:<14} {:<24} {:<25} {:<25} name",
                        "id", "prefix", "scopes", "last used", "revoked"
                    );
                    for k in store.list_keys().await? {
                        println!(
                            "{:<38} {:<14} {:<24} {:<25} {:<25} {}",
                            k.id,
                            k.prefix,
                            k.scopes,
                            missive::util::opt_rfc3339(k.last_used_at)
                                .unwrap_or_else(|| "never".into()),
                            missive::util::opt_rfc3339(k.revoked_at).unwrap_or_else(|| "-".into()),
                            k.name
                        );
                    }
                }
                KeysCommand::Revoke { id } => {
                    if !missive::service::auth::revoke_key(store.as_ref(), &id).await? {
                        anyhow::bail!("no active key with id {id}");
                    }
                    say!("revoked {id}");
                }
            }
            Ok(())
        }
        Command::Send(args) => send(cfg, args).await,
        Command::Templates {
            command: TemplatesCommand::Import { dir },
        } => {
            let store = open_store(&cfg).await?;
            let renderer = missive::render::Renderer::new(&cfg.render);
            for (key, content) in missive::render::files::read_dir(&dir)? {
                match missive::service::templates::save(
                    store.as_ref(),
                    &renderer,
                    &key,
                    &key,
                    &content,
                )
                .await
                {
                    Ok((v, true)) => say!("{key}: version {v} (new)"),
                    Ok((v, false)) => say!("{key}: version {v} (unchanged)"),
                    Err(missive::service::Error::Invalid(errs)) => {
                        for e in errs {
                            eprintln!("{key}: {}: {}", e.field, e.message);
                        }
                        anyhow::bail!("template {key} was not imported");
                    }
                    Err(e) => anyhow::bail!("template {key}: {}", e.detail()),
                }
            }
            Ok(())
        }
        Command::Doctor { json } => {
            let source = match &cli.config {
                Some(f) => format!("defaults, {}, environment", f.display()),
                None => "defaults and environment".to_string(),
            };
            let report = missive::ops::doctor::run(&cfg, &source).await;
            doctor_print(&report, json, cli.quiet)
        }
        // Answered in `main`, before the configuration is loaded.
        Command::Openapi => print_openapi(),
        Command::Backup { path, force } => {
            if cfg.database.backend == missive::config::Backend::Postgres {
                anyhow::bail!("{}", missive::ops::backup::postgres_advice(&cfg.database));
            }
            let b = missive::ops::backup::sqlite(&cfg.database, &path, force).await?;
            say!(
                "backed up the database to {} ({} bytes, mode 0600)",
                b.path.display(),
                b.bytes
            );
            Ok(())
        }
    }
}

/// Prints the doctor's checklist; an error (exit 1) if a check failed.
fn doctor_print(
    report: &missive::ops::doctor::Report,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    use std::io::Write;
    let text = if json {
        format!("{}\n", serde_json::to_string_pretty(&report.json())?)
    } else {
        report.text(quiet)
    };
    // A closed pipe (`missive doctor | head`) is not an error of the checks.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if report.failed() {
        anyhow::bail!("some checks failed");
    }
    Ok(())
}

/// Writes the OpenAPI document to stdout (pretty-printed, ending in a
/// newline), for client generators and diffs.
fn print_openapi() -> anyhow::Result<()> {
    use std::io::Write;
    let json = missive::http::openapi::document()
        .to_pretty_json()
        .context("serializing the OpenAPI document")?;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(json.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        // A closed pipe (`missive openapi | head`) is the reader's choice.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[tokio::main]
async fn main() {
    // Everything missive writes (the database and its journal files, the
    // outboxes, keys) is for its own user only.
    missive::private_files::restrict_umask();
    // Before anything opens a database (backup and doctor connect on
    // their own).
    missive::store::sqlite::configure_library();
    let cli = Cli::parse();
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    if let Some(Command::Openapi) = &cli.command {
        if let Err(e) = print_openapi() {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(cfg) => cfg,
        Err(e) => {
            if let Some(Command::Doctor { json }) = &cli.command {
                let report = missive::ops::doctor::config_failed(&e.to_string());
                let _ = doctor_print(&report, *json, cli.quiet);
            }
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    };
    let tracing =
        match missive::ops::logging::init_with_telemetry(cfg.log.format, cli.quiet, &cfg.telemetry)
        {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
        };
    let result = run(cli, cfg).await;
    tracing.shutdown().await;
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
