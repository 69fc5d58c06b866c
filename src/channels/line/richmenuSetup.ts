/**
 * `npm run line:richmenu`: makes the LINE rich menus (one per language, see richmenu.ts) with
 * the bot's channel access token, replacing those an earlier run made. Safe to run again.
 *
 * The images are drawn from the locale files: an HTML page of the menu's areas rendered by
 * Chromium (CHROMIUM_PATH) through playwright-core, with Noto Sans from the @fontsource
 * packages (this machine has no CJK fonts of its own), so each language's words show in a
 * typeface made for them. Nothing is fetched from the network: the page and its fonts are
 * served to Chromium from node_modules.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { messagingApi } from '@line/bot-sdk';
import { type Browser, chromium } from 'playwright-core';
import { loadConfig } from '../../config.ts';
import { type Locale, LOCALE_TAGS } from '../../domain.ts';
import { loadTranslator } from '../../i18n.ts';
import { createLogger } from '../../log.ts';
import { RICH_MENU_AREAS, RICH_MENU_SIZE, setUpRichMenus } from './richmenu.ts';

/** The page's origin: requests to it are answered here, anything else is refused. */
const ORIGIN = 'http://richmenu.invalid';
/** The @fontsource packages the images use, by the family they define. */
const FONTS = { 'Noto Sans JP': 'noto-sans-jp', 'Noto Sans SC': 'noto-sans-sc', 'Noto Sans KR': 'noto-sans-kr', 'Noto Sans': 'noto-sans' } as const;
type Family = keyof typeof FONTS;
/**
 * Each language's typeface first; Japanese after it, for the words every menu shows in
 * Japanese (the language button names Japanese in Japanese); Noto Sans for Vietnamese.
 */
const FAMILIES: Readonly<Record<Locale, Family[]>> = {
  ja: ['Noto Sans JP', 'Noto Sans'],
  easy: ['Noto Sans JP', 'Noto Sans'],
  en: ['Noto Sans JP', 'Noto Sans'],
  zh: ['Noto Sans SC', 'Noto Sans JP', 'Noto Sans'],
  ko: ['Noto Sans KR', 'Noto Sans JP', 'Noto Sans'],
  vi: ['Noto Sans', 'Noto Sans JP'],
};
/** Dark tiles under white text, each at least 7:1 (WCAG AAA), told apart by colour too. */
const COLOURS = ['#1b5e20', '#0d47a1', '#4a148c', '#7a2e00', '#263238'];
/** The largest text size; a longer label is made smaller until it fits its area. */
const FONT_PX = 130;
const MIN_FONT_PX = 56;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The menu's image as a page: one tile per area, where the area is, with its label. */
function menuPage(locale: Locale, labels: string[]): string {
  const families = FAMILIES[locale];
  const tiles = RICH_MENU_AREAS.map(({ bounds: b }, i) => {
    const style = `left:${b.x}px;top:${b.y}px;width:${b.width}px;height:${b.height}px;background:${COLOURS[i]}`;
    return `<div class="area" style="${style}"><span>${escapeHtml(labels[i]!)}</span></div>`;
  }).join('');
  return `<!doctype html><html lang="${LOCALE_TAGS[locale]}"><head><meta charset="utf-8">
${families.map((f) => `<link rel="stylesheet" href="/fonts/${FONTS[f]}/wght.css">`).join('\n')}
<style>
  html, body { margin: 0; width: ${RICH_MENU_SIZE.width}px; height: ${RICH_MENU_SIZE.height}px; overflow: hidden; background: #fff; }
  .area { position: absolute; box-sizing: border-box; border: 6px solid #fff; padding: 24px 40px;
    display: flex; align-items: center; justify-content: center; text-align: center; overflow: hidden; }
  .area span { color: #fff; font: 700 ${FONT_PX}px/1.2 ${families.map((f) => `'${f} Variable'`).join(', ')}; overflow-wrap: anywhere; }
</style></head><body>${tiles}</body></html>`;
}

/** Serves the page and the fonts' CSS and files from node_modules; refuses everything else. */
async function serve(browser: Browser, html: string) {
  const page = await browser.newPage({ viewport: { ...RICH_MENU_SIZE }, deviceScaleFactor: 1 });
  const roots = new Map<string, URL>(Object.values(FONTS).map((pkg) => [pkg, new URL('./', import.meta.resolve(`@fontsource-variable/${pkg}/wght.css`))]));
  await page.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin !== ORIGIN) return route.abort();
    if (url.pathname === '/menu.html') return route.fulfill({ contentType: 'text/html; charset=utf-8', body: html });
    const [, pkg, rest] = /^\/fonts\/([\w-]+)\/([\w./-]+)$/.exec(url.pathname) ?? [];
    const root = pkg ? roots.get(pkg) : undefined;
    if (!root || !rest || rest.includes('..')) return route.fulfill({ status: 404, body: '' });
    const type = rest.endsWith('.css') ? 'text/css' : rest.endsWith('.woff2') ? 'font/woff2' : 'font/woff';
    return route.fulfill({ contentType: type, body: await readFile(fileURLToPath(new URL(rest, root))) });
  });
  await page.goto(`${ORIGIN}/menu.html`);
  return page;
}

/** Draws one language's menu image (PNG, RICH_MENU_SIZE). Throws when a label cannot be fitted. */
async function drawRichMenu(browser: Browser, locale: Locale, labels: string[]): Promise<Buffer> {
  const page = await serve(browser, menuPage(locale, labels));
  try {
    const unfitted = await page.evaluate(
      async ({ max, min }) => {
        const spans = Array.from(document.querySelectorAll<HTMLElement>('.area span'));
        // Load the faces each label needs before measuring it.
        await Promise.all(spans.map((s) => document.fonts.load(getComputedStyle(s).font, s.textContent ?? '')));
        await document.fonts.ready;
        const fits = (s: HTMLElement) => {
          const area = s.parentElement!;
          return area.scrollWidth <= area.clientWidth && area.scrollHeight <= area.clientHeight;
        };
        const left: string[] = [];
        for (const s of spans) {
          let px = max;
          s.style.fontSize = `${px}px`;
          while (!fits(s) && px > min) s.style.fontSize = `${(px -= 4)}px`;
          if (!fits(s)) left.push(s.textContent ?? '');
        }
        return left;
      },
      { max: FONT_PX, min: MIN_FONT_PX },
    );
    if (unfitted.length > 0) throw new Error(`the ${locale} rich menu: ${unfitted.length} label(s) too long to fit their area at ${MIN_FONT_PX}px`);
    return await page.screenshot({ type: 'png', clip: { x: 0, y: 0, ...RICH_MENU_SIZE } });
  } finally {
    await page.close();
  }
}

/** Runs the setup with the bot's configuration; resolves once every menu is in place. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const token = config.line.channelAccessToken;
  if (!token) throw new Error('LINE_CHANNEL_ACCESS_TOKEN is not set');
  const browser = await chromium.launch({
    executablePath: config.chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await setUpRichMenus({
      client: new messagingApi.MessagingApiClient({ channelAccessToken: token, baseURL: config.line.apiBaseUrl }),
      blobClient: new messagingApi.MessagingApiBlobClient({ channelAccessToken: token, baseURL: config.line.apiDataBaseUrl }),
      translator: loadTranslator(),
      draw: async (locale, menu) => {
        const started = Date.now();
        const labels = (menu.areas ?? []).map((a) => (a.action as messagingApi.PostbackAction).displayText ?? '');
        const image = await drawRichMenu(browser, locale, labels);
        log.info('richmenu.drawn', { locale, bytes: image.length, ms: Date.now() - started });
        return image;
      },
      log,
    });
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`line:richmenu failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
