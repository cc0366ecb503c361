// The hand-written layer over the generated types (src/generated/, made by
// openapi-typescript from `missive openapi`; never edit those by hand).

import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import createClient, { type Client } from "openapi-fetch";
import { Webhook } from "standardwebhooks";
import type { components, operations, paths } from "./generated/schema.js";

export type { components, operations, paths };
export type Schemas = components["schemas"];
export type FieldError = Schemas["FieldError"];
export type Problem = Schemas["Problem"];
export type Delivery = Schemas["Delivery"];
export type SendRequest = Schemas["SendRequest"];
export type Accepted = Schemas["Accepted"];
export type PutTemplate = Schemas["PutTemplate"];
export type DeliveryQuery = NonNullable<operations["list_deliveries"]["parameters"]["query"]>;

/** An error answer of the API (an RFC 9457 problem), or a failed request. */
export class MissiveError extends Error {
  /** The HTTP status (0 when no answer came). */
  readonly status: number;
  /** `urn:missive:problem:<slug>`, e.g. `urn:missive:problem:invalid-input`. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** The fields that are not valid (422 only; otherwise empty). */
  readonly errors: FieldError[];
  /** Seconds to wait before trying again (429 and 503), if the server said. */
  readonly retryAfter?: number;

  constructor(problem: Partial<Problem> & { status: number }, retryAfter?: number) {
    const title = problem.title ?? `HTTP ${problem.status}`;
    const detail = problem.detail ?? "";
    super(detail ? `${title}: ${detail}` : title);
    this.name = "MissiveError";
    this.status = problem.status;
    this.type = problem.type ?? "about:blank";
    this.title = title;
    this.detail = detail;
    this.errors = problem.errors ?? [];
    this.retryAfter = retryAfter;
  }

  /** The error about `field` (e.g. `to[0].webhook_url`), if there is one. */
  field(field: string): FieldError | undefined {
    return this.errors.find((e) => e.field === field);
  }

  /** Builds the error from an answer and the body openapi-fetch read. */
  static from(response: Response, body: unknown): MissiveError {
    const retry = Number(response.headers.get("retry-after"));
    const p = body !== null && typeof body === "object" ? (body as Partial<Problem>) : {};
    return new MissiveError(
      {
        ...p,
        status: response.status,
        title: p.title ?? (response.statusText || undefined),
        detail: p.detail ?? (typeof body === "string" ? body : undefined),
      },
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
  }
}

export interface MissiveOptions {
  /** e.g. `https://notify.example.com` (no trailing `/v1`). */
  baseUrl: string;
  /** An API key (`msv_…`). */
  apiKey: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
}

/** A new idempotency key (a random UUID). */
export function newIdempotencyKey(): string {
  return randomUUID();
}

/** The answer to a send, with the idempotency key it was sent with. */
export interface SendResult {
  accepted: Accepted;
  /** The key sent in `Idempotency-Key`; send again with it to retry safely. */
  idempotencyKey?: string;
  /** True when the server replayed an earlier answer for the same key. */
  replayed: boolean;
}

type Result<T> = { data?: T; error?: unknown; response: Response };

function unwrap<T>(r: Result<T>): T {
  if (r.error !== undefined || !r.response.ok) {
    throw MissiveError.from(r.response, r.error);
  }
  return r.data as T;
}

/** A client of one missive server. Every method throws `MissiveError` on an error answer. */
export class Missive {
  /** The typed openapi-fetch client, for every endpoint the helpers here leave out. */
  readonly api: Client<paths>;

  constructor(opts: MissiveOptions) {
    this.api = createClient<paths>({
      baseUrl: opts.baseUrl.replace(/\/+$/, ""),
      headers: { Authorization: `Bearer ${opts.apiKey}` },
      fetch: opts.fetch,
    });
  }

  /** Creates or updates a template; a change is a new version. */
  async putTemplate(key: string, template: PutTemplate) {
    return unwrap(
      await this.api.PUT("/v1/templates/{key}", { params: { path: { key } }, body: template }),
    );
  }

  /**
   * Sends a notification. With `idempotencyKey`, a retry with the same key
   * and body creates nothing new (the answer is a replay).
   */
  async send(request: SendRequest, opts: { idempotencyKey?: string } = {}): Promise<SendResult> {
    const header = opts.idempotencyKey === undefined ? {} : { "Idempotency-Key": opts.idempotencyKey };
    const r = await this.api.POST("/v1/notifications", { body: request, params: { header } });
    return {
      accepted: unwrap(r),
      idempotencyKey: opts.idempotencyKey,
      replayed: r.response.headers.get("idempotent-replayed") === "true",
    };
  }

  /**
   * Sends with an idempotency key: the one given, or a new one. Keep the
   * returned `idempotencyKey` and pass it again to retry without sending twice.
   */
  async sendIdempotent(request: SendRequest, idempotencyKey: string = newIdempotencyKey()) {
    return this.send(request, { idempotencyKey });
  }

  /** One page of the delivery log (newest first). */
  async deliveryPage(query: DeliveryQuery = {}) {
    return unwrap(await this.api.GET("/v1/deliveries", { params: { query } }));
  }

  /**
   * Every delivery matching `query`, newest first, fetching pages of
   * `query.limit` (default 50) as the loop goes on.
   */
  async *deliveries(query: Omit<DeliveryQuery, "cursor"> = {}): AsyncGenerator<Delivery> {
    let cursor: string | undefined;
    do {
      const page = await this.deliveryPage({ ...query, cursor });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** One delivery with its attempts. */
  async getDelivery(id: string) {
    return unwrap(await this.api.GET("/v1/deliveries/{id}", { params: { path: { id } } }));
  }
}

/** The error `verifyWebhook` throws for a request missive did not sign. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/**
 * Checks a webhook delivery's Standard Webhooks signature with the signing
 * secret (`whsec_…`) and returns the parsed JSON body. `body` must be the
 * raw bytes as received; the timestamp must be within 5 minutes.
 */
export function verifyWebhook(
  secret: string,
  body: string | Buffer,
  headers: IncomingHttpHeaders | Record<string, string>,
): unknown {
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) plain[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : String(v);
  }
  try {
    return new Webhook(secret).verify(typeof body === "string" ? body : body.toString("utf8"), plain);
  } catch (e) {
    throw new WebhookVerificationError(e instanceof Error ? e.message : String(e));
  }
}
