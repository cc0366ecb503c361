// A live missive for the tests: `missive serve` on a free port with a
// fresh data dir, a known webhook signing secret, and its admin key.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, openSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface Live {
  baseUrl: string;
  adminKey: string;
  signingSecret: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createNetServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts missive (MISSIVE_BIN, default ../../target/debug/missive) and waits until /readyz answers 200. */
export async function startMissive(): Promise<Live> {
  const bin = resolve(process.env.MISSIVE_BIN ?? "../../target/debug/missive");
  const dir = mkdtempSync(join(tmpdir(), "missive-client-ts-"));
  const port = await freePort();
  const signingSecret = `whsec_${randomBytes(32).toString("base64")}`;
  const log = openSync(join(dir, "missive.log"), "w");
  const child: ChildProcess = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH ?? "",
      RUST_LOG: "warn",
      MISSIVE__DATA_DIR: dir,
      MISSIVE__DATABASE__URL: `sqlite://${dir}/missive.db`,
      MISSIVE__SERVER__BIND: `127.0.0.1:${port}`,
      MISSIVE__SERVER__SHUTDOWN_DRAIN: "0s",
      MISSIVE__WORKER__POLL_INTERVAL: "100ms",
      MISSIVE__CHANNELS__WEBHOOK__ALLOW_PRIVATE: "true",
      MISSIVE__CHANNELS__WEBHOOK__SIGNING_SECRET: signingSecret,
    },
    stdio: ["ignore", log, log],
  });
  let exited: number | null = null;
  child.on("exit", (code) => (exited = code ?? -1));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) {
      const out = readFileSync(join(dir, "missive.log"), "utf8");
      await stop();
      throw new Error(`missive (${bin}) exited with ${exited} before it was ready:\n${out}`);
    }
    try {
      if ((await fetch(`${baseUrl}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      await stop();
      throw new Error(`missive (${bin}) was not ready within 30 s`);
    }
    await sleep(50);
  }
  const adminKey = readFileSync(join(dir, "admin.key"), "utf8").trim();
  return { baseUrl, adminKey, signingSecret, stop };
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A webhook receiver on 127.0.0.1:0 that answers 200 and keeps every request. */
export async function startReceiver() {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    /** Waits until at least `n` requests came (at most `ms`). */
    async waitFor(n: number, ms = 20_000) {
      const end = Date.now() + ms;
      while (received.length < n) {
        if (Date.now() > end) throw new Error(`received ${received.length} of ${n} webhooks`);
        await sleep(50);
      }
      return received;
    },
    /** Stops listening and drops kept-alive connections (missive's
     *  sending side keeps them open, and close alone would wait for them). */
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
