/**
 * The floor of this stack: a minimal restify route doing only what every turn of the bot
 * must do, with the same libraries the bot uses: read the raw body, verify the LINE
 * signature, parse the JSON, one Redis read and one write (ioredis), one call to the LINE
 * API, answer 200.
 *
 * The LINE call goes one of two ways (BASELINE_LINE): `plain`, a `node:http` request over a
 * keep-alive agent, the cheapest there is; `sdk`, the SDK's MessagingApiClient (global
 * `fetch`, as the bot sent before it had its own client).
 *
 * Env: PORT, REDIS_URL, LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, LINE_API_BASE_URL,
 * BASELINE_LINE (`plain` or `sdk`, default `plain`). Prints `listening <port>` once bound.
 */
import { Agent, request } from 'node:http';
import { messagingApi, validateSignature } from '@line/bot-sdk';
import { Redis } from 'ioredis';
import restify from 'restify';

const env = process.env;
const secret = env.LINE_CHANNEL_SECRET ?? '';
const token = env.LINE_CHANNEL_ACCESS_TOKEN ?? '';
const base = new URL(env.LINE_API_BASE_URL ?? 'http://127.0.0.1');
const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const sdk = new messagingApi.MessagingApiClient({ channelAccessToken: token, baseURL: base.href });
const agent = new Agent({ keepAlive: true, maxSockets: 128 });

/** POST /v2/bot/message/reply over the keep-alive agent; rejects on a status other than 200. */
function plainReply(body: messagingApi.ReplyMessageRequest): Promise<void> {
  const bytes = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path: '/v2/bot/message/reply',
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': bytes.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`LINE answered ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

const reply = env.BASELINE_LINE === 'sdk' ? (body: messagingApi.ReplyMessageRequest) => sdk.replyMessage(body) : plainReply;

interface Body {
  events: { replyToken?: string; source?: { userId?: string }; message?: { text?: string } }[];
}

const server = restify.createServer({ name: 'bench-baseline', handleUncaughtExceptions: false });
server.post('/line/webhook', async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const signature = req.header('x-line-signature');
  if (!signature || !validateSignature(raw, secret, signature)) {
    res.send(401, { error: 'invalid signature' });
    return;
  }
  const event = (JSON.parse(raw.toString('utf8')) as Body).events[0];
  const userId = event?.source?.userId ?? 'unknown';
  const key = `baseline:conv:${userId}`;
  const previous = await redis.get(key);
  const turns = previous ? (JSON.parse(previous) as { turns: number }).turns + 1 : 1;
  await redis.set(key, JSON.stringify({ turns, at: Date.now() }), 'PX', 24 * 3_600_000);
  await reply({ replyToken: event?.replyToken ?? '', messages: [{ type: 'text', text: `ok ${turns}` }] });
  res.send(200, {});
});

server.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${address.port}\n`);
});

const stop = () => {
  server.close();
  redis.disconnect();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
