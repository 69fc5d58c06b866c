/**
 * The channel-neutral contract of a turn: what a dialog receives and what it returns.
 * LINE, the web chat and Teams translate their events into `Input` and render `Reply`
 * back; dialogs know nothing of them, of HTTP or of Redis. It lives below both the
 * channels and the dialogs so that neither has to import the other.
 */
import type { DateTime } from 'luxon';
import type { Agent, Locale } from './domain.ts';
import type { Catalog } from './services/catalog.ts';
import type { BookingPort, ErasurePort, HandoffPort, KnowledgePort } from './services/ports.ts';

/** What the user did. A tapped button arrives as `action` with the choice's `data`. */
export type Input =
  | { kind: 'text'; text: string }
  | { kind: 'action'; data: string }
  | { kind: 'follow' }
  | { kind: 'unsupported' }
  /** Something staff did in a handoff, delivered to the citizen's conversation. */
  | { kind: 'staff'; event: 'claimed' | 'closed' | 'message'; ticketId: string; text?: string }
  /** An agent sent a knowledge-base entry as the answer to the citizen's question (the ticket is closed). */
  | { kind: 'staff'; event: 'answer'; ticketId: string; entryId: string };

/** A button. `data` is an encoded action (see `dialogs/actions.ts`), validated when it comes back. */
export interface Choice {
  label: string;
  data: string;
  /** A heading the channel may show this button under, with the others of the same heading (e.g. morning, afternoon). */
  group?: string;
  /** The language of the label when it is not the conversation's (each language's button names it in itself). */
  lang?: Locale;
}

/** What every reply may carry besides its words: buttons, and how a channel may present them. */
interface ReplyBase {
  choices?: Choice[];
  /**
   * What the reply is, where a channel shows a stand-in for it (LINE's notifications and chat
   * list): never personal data. Unset: a text's own words, a card's title.
   */
  alt?: string;
  /** Its buttons' numbers are shown, for a long list: typing a button's number taps it (at any step). */
  numbered?: true;
}

/** What the bot says: plain text or a card, each optionally with buttons. */
export type Reply =
  | ({ kind: 'text'; text: string } & ReplyBase)
  | ({ kind: 'card'; title: string; fields: { label: string; value: string }[]; text?: string; links?: Link[] } & ReplyBase);

/** A button on a card that opens a page or dials a number (`https:` or `tel:`), not a reply to the bot. */
export interface Link {
  label: string;
  uri: string;
}

/** Translate a locale key (i18next style, `{{name}}` interpolation) in the user's language. */
export type Translate = (key: string, params?: Record<string, string | number>) => string;

/** Services a dialog may call; all behind interfaces so tests run them in memory. */
export interface DialogServices {
  catalog: Catalog;
  bookings: BookingPort;
  handoff: HandoffPort;
  /** Deleting the citizen's data at their request. */
  erasure: ErasurePort;
  /** Typed questions: answers, urgent messages, feedback. */
  knowledge: KnowledgePort;
  /** Translator factory, so a language change takes effect within the same turn. */
  translator: (locale: Locale) => Translate;
}

/** Who is talking, on which channel. `userKey` identifies the person across turns. */
export interface Caller {
  userKey: string;
  channel: string;
  /**
   * Who holds a slot while booking, when that is more than one `userKey`: the web chat's
   * source address (hashed), since anyone can open as many web chat conversations as they
   * like. Unset: the user key (a LINE user is one person).
   */
  personKey?: string;
  /** Set when a staff member uses the dialogs on a citizen's behalf (proxy booking from Teams). */
  agent?: Agent;
}

/** Everything a dialog step gets. */
export interface TurnContext {
  input: Input;
  caller: Caller;
  now: DateTime;
  services: DialogServices;
}
