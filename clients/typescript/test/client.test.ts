import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  Missive,
  MissiveError,
  WebhookVerificationError,
  verifyWebhook,
  type Delivery,
} from "../src/index.js";
import { startMissive, startReceiver, type Live } from "./server.js";

let live: Live;
let rx: Awaited<ReturnType<typeof startReceiver>>;
let client: Missive;

before(async () => {
  live = await startMissive();
  rx = await startReceiver();
  client = new Missive({ baseUrl: live.baseUrl, apiKey: live.adminKey });
});

after(async () => {
  await rx?.close();
  await live?.stop();
});

test("a template, a send with it, and a signed webhook that verifies", async () => {
  const version = await client.putTemplate("order-shipped", {
    name: "Order shipped",
    channels: { webhook: { body: '{"order": {{json order_id}} }' } },
  });
  assert.equal(version.version, 1);

  const { accepted } = await client.send({
    template: "order-shipped",
    to: [{ webhook_url: `${rx.url}/hooks/order` }],
    data: { order_id: 1001 },
  });
  assert.equal(accepted.deliveries.length, 1);
  const [hook] = (await rx.waitFor(1)).filter((r) => r.path === "/hooks/order");
  assert.ok(hook, "the webhook arrived");
  assert.equal(hook.headers["webhook-id"], accepted.deliveries[0].id);

  assert.deepEqual(verifyWebhook(live.signingSecret, hook.body, hook.headers), { order: 1001 });
  assert.throws(
    () => verifyWebhook(live.signingSecret, Buffer.from('{"order": 1002 }'), hook.headers),
    WebhookVerificationError,
    "a changed body does not verify",
  );
  const other = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
  assert.throws(() => verifyWebhook(other, hook.body, hook.headers), WebhookVerificationError);

  const detail = await client.getDelivery(accepted.deliveries[0].id);
  assert.equal(detail.id, accepted.deliveries[0].id);
});

test("an idempotency key, given or generated, makes a retry a replay", async () => {
  const request = {
    content: { webhook: { body: '{"n": 1}' } },
    to: [{ webhook_url: `${rx.url}/hooks/idem` }],
  };
  const first = await client.sendIdempotent(request);
  assert.match(first.idempotencyKey ?? "", /^[0-9a-f-]{36}$/);
  assert.equal(first.replayed, false);
  const again = await client.sendIdempotent(request, first.idempotencyKey);
  assert.equal(again.replayed, true);
  assert.equal(again.accepted.id, first.accepted.id);

  const explicit = await client.send(request, { idempotencyKey: "order-7-shipped" });
  assert.equal(explicit.replayed, false);
  assert.notEqual(explicit.accepted.id, first.accepted.id);

  // Without a key, nothing is replayed.
  const plain = [await client.send(request), await client.send(request)];
  assert.deepEqual(plain.map((p) => p.replayed), [false, false]);
  assert.notEqual(plain[0].accepted.id, plain[1].accepted.id);
});

test("the delivery log, paged through with the iterator", async () => {
  const to = Array.from({ length: 5 }, (_, i) => ({ webhook_url: `${rx.url}/hooks/page-${i}` }));
  const { accepted } = await client.send({ content: { webhook: { body: "{}" } }, to });
  const sent = accepted.deliveries.map((d) => d.id).sort();
  assert.equal(sent.length, 5);

  const first = await client.deliveryPage({ notification: accepted.id, limit: 2 });
  assert.equal(first.items.length, 2);
  assert.ok(first.next_cursor, "more than one page");

  const seen: Delivery[] = [];
  for await (const d of client.deliveries({ notification: accepted.id, limit: 2 })) seen.push(d);
  assert.deepEqual(seen.map((d) => d.id).sort(), sent);

  let all = 0;
  for await (const _ of client.deliveries({ limit: 3 })) all++;
  assert.ok(all >= 5 + 1 + 2, `the whole log has every delivery sent here (${all})`);
});

test("bad input is a MissiveError naming the field", async () => {
  await assert.rejects(
    client.send({ content: { webhook: { body: "{}" } }, to: [{ webhook_url: "not a url" }] }),
    (e: unknown) => {
      assert.ok(e instanceof MissiveError);
      assert.equal(e.status, 422);
      assert.equal(e.type, "urn:missive:problem:invalid-input");
      assert.equal(e.title, "Invalid input");
      assert.ok(e.detail.length > 0);
      assert.ok(e.field("to[0].webhook_url"), JSON.stringify(e.errors));
      return true;
    },
  );
  await assert.rejects(client.deliveryPage({ limit: 0 }), (e: unknown) => {
    assert.ok(e instanceof MissiveError);
    assert.equal(e.status, 422);
    assert.ok(e.field("limit"), JSON.stringify(e.errors));
    return true;
  });
  const stranger = new Missive({ baseUrl: live.baseUrl, apiKey: "msv_not_a_key" });
  await assert.rejects(stranger.deliveryPage(), (e: unknown) => {
    assert.ok(e instanceof MissiveError);
    assert.equal(e.status, 401);
    assert.deepEqual(e.errors, []);
    return true;
  });
});
