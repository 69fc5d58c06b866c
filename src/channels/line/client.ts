/**
 * The LINE Messaging API calls a turn makes, over a keep-alive connection pool (undici's
 * `Agent.request`), with the SDK's request and response types. The SDK's own client sends through
 * the global `fetch`, whose per-call cost (WHATWG Request, Headers, Response, streams) halved
 * the throughput of a turn in the bench; the one-off rich menu setup keeps it.
 *
 * Like the SDK, a status other than 2xx rejects with its `HTTPFetchError` (status, status
 * text, headers, body), and a network failure with the error itself (its `code`, e.g.
 * `ECONNREFUSED`). There is no timeout here: callers bound each call (`withTimeout`).
 */
import { STATUS_CODES } from 'node:http';
import { HTTPFetchError, type messagingApi } from '@line/bot-sdk';
import { Agent, type Dispatcher } from 'undici';

export interface LineApiClientOptions {
  channelAccessToken: string;
  /** `https://api.line.me`, or a stub in tests. */
  baseURL: string;
  /** Where the requests go (default: one pool shared by every client of this process). */
  dispatcher?: Dispatcher;
}

/** Sockets kept open to one origin at most; further calls wait for a free one. */
const CONNECTIONS_PER_ORIGIN = 128;

/** The process's pool: every client shares its sockets to LINE. */
const sharedAgent = new Agent({ connections: CONNECTIONS_PER_ORIGIN, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });

type Method = 'GET' | 'POST';

/** The Messaging API calls the bot makes, named and typed as in `messagingApi.MessagingApiClient`. */
export class LineApiClient {
  private readonly origin: string;
  private readonly basePath: string;
  private readonly dispatcher: Dispatcher;
  private readonly authorization: string;

  constructor(opts: LineApiClientOptions) {
    const base = new URL(opts.baseURL);
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/$/, '');
    this.dispatcher = opts.dispatcher ?? sharedAgent;
    this.authorization = `Bearer ${opts.channelAccessToken}`;
  }

  replyMessage(body: messagingApi.ReplyMessageRequest): Promise<messagingApi.ReplyMessageResponse> {
    return this.call('POST', '/v2/bot/message/reply', body);
  }

  /** `xLineRetryKey`: a UUID; LINE answers 409 to a key it already accepted. */
  pushMessage(body: messagingApi.PushMessageRequest, xLineRetryKey?: string): Promise<messagingApi.PushMessageResponse> {
    return this.call('POST', '/v2/bot/message/push', body, xLineRetryKey === undefined ? undefined : { 'x-line-retry-key': xLineRetryKey });
  }

  showLoadingAnimation(body: messagingApi.ShowLoadingAnimationRequest): Promise<object> {
    return this.call('POST', '/v2/bot/chat/loading/start', body);
  }

  getProfile(userId: string): Promise<messagingApi.UserProfileResponse> {
    return this.call('GET', `/v2/bot/profile/${encodeURIComponent(userId)}`);
  }

  linkRichMenuIdToUser(userId: string, richMenuId: string): Promise<object> {
    return this.call('POST', `/v2/bot/user/${encodeURIComponent(userId)}/richmenu/${encodeURIComponent(richMenuId)}`);
  }

  getRichMenuAlias(richMenuAliasId: string): Promise<messagingApi.RichMenuAliasResponse> {
    return this.call('GET', `/v2/bot/richmenu/alias/${encodeURIComponent(richMenuAliasId)}`);
  }

  private async call<T>(method: Method, path: string, body?: object, extra?: Record<string, string>): Promise<T> {
    const headers: Record<string, string> = { authorization: this.authorization, ...extra };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.dispatcher.request({
      origin: this.origin,
      method,
      path: this.basePath + path,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode > 299) {
      const statusText = STATUS_CODES[res.statusCode] ?? '';
      throw new HTTPFetchError(`${res.statusCode} - ${statusText}`, { status: res.statusCode, statusText, headers: toHeaders(res.headers), body: text });
    }
    return (text ? JSON.parse(text) : null) as T;
  }
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}
