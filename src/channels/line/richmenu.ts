/**
 * LINE's rich menu: the persistent menu under the chat. One menu per language, each reached
 * through the alias `richmenu-<locale>`; the Japanese one is the default for every user, and
 * a citizen is linked to the menu of their conversation's language when it is set or changes.
 *
 * Each area sends, as a postback, the same action as the chat's menu button of that name,
 * with the button's label as `displayText`: tapping shows and does what typing it would. The
 * words are in the menu object too (`chatBarText`, the areas' labels), not only in the image.
 *
 * `setUpRichMenus` (run by `npm run line:richmenu`) makes them; `RichMenuLinker` links users.
 */
import { HTTPFetchError, messagingApi } from '@line/bot-sdk';
import { type Action, encodeAction } from '../../../dialogs/actions.ts';
import { type Locale, LOCALES } from '../../domain.ts';
import { errorFields, type Logger } from '../../log.ts';
import type { LineApiClient } from './client.ts';
import type { Translate } from '../../turn.ts';
import { withTimeout } from './push.ts';

/** LINE's large-width, compact-height rich menu. */
export const RICH_MENU_SIZE = { width: 2500, height: 843 } as const;
/** Rich menus of this bot are named with this prefix: a re-run of the setup replaces them, and only them. */
export const RICH_MENU_NAME_PREFIX = 'kawasaki-city-bot:';
/** LINE takes images up to 1 MB. */
export const RICH_MENU_IMAGE_MAX_BYTES = 1024 * 1024;
/** LINE's limits on a rich menu's bar text and an action's label. */
const CHAT_BAR_TEXT_MAX = 14;
const ACTION_LABEL_MAX = 20;
/** Longest wait for one LINE call when linking a user. */
const CALL_TIMEOUT_MS = 5_000;
/** A language whose menu was not set up is looked for again after this long. */
const MISSING_RECHECK_MS = 10 * 60_000;

/** The alias of a language's menu. */
export function richMenuAlias(locale: Locale): string {
  return `richmenu-${locale}`;
}

/** One area of the menu: what it does, the locale key of its words, and where it is. */
export interface RichMenuArea {
  key: string;
  action: Action;
  bounds: { x: number; y: number; width: number; height: number };
}

const TOP = Math.floor(RICH_MENU_SIZE.height / 2);
const THIRD = Math.floor(RICH_MENU_SIZE.width / 3);
const HALF = RICH_MENU_SIZE.width / 2;

/** Three areas on top (book, my bookings, ask), two below (a person, language). */
export const RICH_MENU_AREAS: readonly RichMenuArea[] = [
  { key: 'menu.book', action: { a: 'book' }, bounds: { x: 0, y: 0, width: THIRD, height: TOP } },
  { key: 'menu.my', action: { a: 'my' }, bounds: { x: THIRD, y: 0, width: RICH_MENU_SIZE.width - 2 * THIRD, height: TOP } },
  { key: 'menu.ask', action: { a: 'ask' }, bounds: { x: RICH_MENU_SIZE.width - THIRD, y: 0, width: THIRD, height: TOP } },
  { key: 'menu.human', action: { a: 'human' }, bounds: { x: 0, y: TOP, width: HALF, height: RICH_MENU_SIZE.height - TOP } },
  { key: 'menu.language', action: { a: 'language' }, bounds: { x: HALF, y: TOP, width: HALF, height: RICH_MENU_SIZE.height - TOP } },
];

/** The rich menu object of one language. Throws when its bar text is longer than LINE takes. */
export function richMenuOf(locale: Locale, t: Translate): messagingApi.RichMenuRequest {
  const chatBarText = t('common.menu');
  if (chatBarText.length > CHAT_BAR_TEXT_MAX) throw new Error(`locales/${locale}.json: common.menu is the rich menu's bar text: at most ${CHAT_BAR_TEXT_MAX} characters`);
  return {
    size: { ...RICH_MENU_SIZE },
    selected: true,
    name: `${RICH_MENU_NAME_PREFIX}${locale}`,
    chatBarText,
    areas: RICH_MENU_AREAS.map(({ key, action, bounds }) => {
      const label = t(key);
      // The label is optional in a rich menu (read out by screen readers); LINE refuses a longer one.
      const postback: messagingApi.PostbackAction = { type: 'postback', data: encodeAction(action), displayText: label, ...(label.length <= ACTION_LABEL_MAX ? { label } : {}) };
      return { bounds: { ...bounds }, action: postback };
    }),
  };
}

export interface RichMenuSetupOptions {
  client: messagingApi.MessagingApiClient;
  /** For the image uploads (LINE's api-data host). */
  blobClient: messagingApi.MessagingApiBlobClient;
  translator: (locale: Locale) => Translate;
  /** The menu's image: a PNG of RICH_MENU_SIZE with the areas' words. */
  draw: (locale: Locale, menu: messagingApi.RichMenuRequest) => Promise<Buffer>;
  log: Logger;
}

/**
 * Makes one menu per language with its image, points each language's alias at it, sets the
 * Japanese one as the default, then deletes the menus this bot made before. Every image is
 * drawn before LINE is changed; menus left by a run cut short are deleted by the next one.
 * Returns the new menus' ids.
 */
export async function setUpRichMenus(opts: RichMenuSetupOptions): Promise<Record<Locale, string>> {
  const { client, blobClient, log } = opts;
  const drawn: { locale: Locale; menu: messagingApi.RichMenuRequest; image: Buffer }[] = [];
  for (const locale of LOCALES) {
    const menu = richMenuOf(locale, opts.translator(locale));
    const image = await opts.draw(locale, menu);
    if (image.length > RICH_MENU_IMAGE_MAX_BYTES) throw new Error(`the ${locale} rich menu image is ${image.length} bytes: LINE takes at most ${RICH_MENU_IMAGE_MAX_BYTES}`);
    drawn.push({ locale, menu, image });
  }
  const before = (await client.getRichMenuList()).richmenus.filter((m) => m.name.startsWith(RICH_MENU_NAME_PREFIX));
  const made = {} as Record<Locale, string>;
  for (const { locale, menu, image } of drawn) {
    const { richMenuId } = await client.createRichMenu(menu);
    await blobClient.setRichMenuImage(richMenuId, new Blob([new Uint8Array(image)], { type: 'image/png' }));
    made[locale] = richMenuId;
    log.info('richmenu.created', { locale, bytes: image.length });
  }
  const aliases = new Set((await client.getRichMenuAliasList()).aliases.map((a) => a.richMenuAliasId));
  for (const locale of LOCALES) {
    const richMenuAliasId = richMenuAlias(locale);
    if (aliases.has(richMenuAliasId)) await client.updateRichMenuAlias(richMenuAliasId, { richMenuId: made[locale] });
    else await client.createRichMenuAlias({ richMenuAliasId, richMenuId: made[locale] });
  }
  await client.setDefaultRichMenu(made.ja);
  for (const old of before) await client.deleteRichMenu(old.richMenuId);
  log.info('richmenu.done', { menus: LOCALES.length, replaced: before.length });
  return made;
}

export interface RichMenuLinkerOptions {
  client: Pick<LineApiClient, 'linkRichMenuIdToUser' | 'getRichMenuAlias'>;
  log: Logger;
  now: () => number;
}

/**
 * Links a user to their language's menu. Menu ids come from the aliases, each read once and
 * kept; a language without a menu (the setup was never run) is skipped, logged once, and
 * looked for again after a while. A link refused because the menu is gone (the setup was run
 * again) reads the alias anew and tries once more.
 */
export class RichMenuLinker {
  private readonly opts: RichMenuLinkerOptions;
  /** A language's menu id, or undefined (with when that was found) when it has none. */
  private readonly ids = new Map<Locale, Promise<{ id?: string; at: number }>>();
  private missingLogged = false;

  constructor(opts: RichMenuLinkerOptions) {
    this.opts = opts;
  }

  /** Links `userId` to the menu of `locale`. Never rejects; a failure is logged. */
  async link(userId: string, locale: Locale): Promise<void> {
    const { client, log } = this.opts;
    try {
      const id = await this.menuOf(locale);
      if (!id) return;
      try {
        await withTimeout(client.linkRichMenuIdToUser(userId, id), CALL_TIMEOUT_MS);
      } catch (err) {
        if (!(err instanceof HTTPFetchError && (err.status === 400 || err.status === 404))) throw err;
        this.ids.delete(locale);
        const again = await this.menuOf(locale);
        if (!again || again === id) throw err;
        await withTimeout(client.linkRichMenuIdToUser(userId, again), CALL_TIMEOUT_MS);
      }
    } catch (err) {
      log.warn('line.richmenu_link_failed', { locale, status: err instanceof HTTPFetchError ? err.status : undefined, ...errorFields(err) });
    }
  }

  private async menuOf(locale: Locale): Promise<string | undefined> {
    const known = this.ids.get(locale);
    const found = known ? await known : undefined;
    if (found && (found.id || this.opts.now() - found.at < MISSING_RECHECK_MS)) return found.id;
    const lookup = this.lookup(locale);
    this.ids.set(locale, lookup);
    // A failed look-up is not kept: the next link asks again.
    return (await lookup.catch((err) => {
      this.ids.delete(locale);
      throw err;
    })).id;
  }

  private async lookup(locale: Locale): Promise<{ id?: string; at: number }> {
    const { client, log, now } = this.opts;
    try {
      const { richMenuId } = await withTimeout(client.getRichMenuAlias(richMenuAlias(locale)), CALL_TIMEOUT_MS);
      return { id: richMenuId, at: now() };
    } catch (err) {
      if (!(err instanceof HTTPFetchError && err.status === 404)) throw err;
      if (!this.missingLogged) log.warn('line.richmenu_not_set_up', { alias: richMenuAlias(locale), note: 'run-npm-run-line:richmenu' });
      this.missingLogged = true;
      return { at: now() };
    }
  }
}
