//! A TCP relay that holds every chunk for a fixed time in each direction:
//! PostgreSQL on this machine made to look like PostgreSQL across a network
//! (`--delay-us 500` each way is 1 ms of round trip). Each direction is a
//! reader thread that stamps what it reads and a writer thread that sends
//! it once its time has come, so many statements in flight stay in flight
//! (pipelining is kept; only latency is added). Threads and `nanosleep`
//! rather than tokio timers, whose resolution is a millisecond.
//!
//! `delay-relay --listen 127.0.0.1:6432 --to 127.0.0.1:5432 --delay-us 500`

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
#[command(about = "Relay TCP with a fixed delay each way")]
struct Args {
    /// Where to listen (keep it on 127.0.0.1).
    #[arg(long, default_value = "127.0.0.1:6432")]
    listen: String,
    /// Where to connect for each accepted connection.
    #[arg(long, default_value = "127.0.0.1:5432")]
    to: String,
    /// Microseconds each chunk is held, in each direction.
    #[arg(long, default_value_t = 500)]
    delay_us: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let delay = Duration::from_micros(args.delay_us);
    let listener = TcpListener::bind(&args.listen)?;
    eprintln!(
        "relaying {} -> {} with {} us each way",
        args.listen, args.to, args.delay_us
    );
    for client in listener.incoming() {
        let client = client?;
        let server = match TcpStream::connect(&args.to) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("connecting to {}: {e}", args.to);
                continue;
            }
        };
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        pipe(client.try_clone()?, server.try_clone()?, delay);
        pipe(server, client, delay);
    }
    Ok(())
}

/// Copies `from` to `to`, each chunk `delay` after it was read.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = from.shutdown(Shutdown::Read);
    });
    thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
