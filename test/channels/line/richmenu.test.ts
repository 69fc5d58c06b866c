/**
 * `npm run line:richmenu` against the LINE stub, as an operator runs it (a child process with
 * the bot's environment, Chromium drawing the images): one menu per language with the menu
 * buttons' actions and the locale files' words, valid PNG images of LINE's size uploaded to
 * the data host, the aliases, the Japanese default; and a second run replacing the first's
 * menus, and only those.
 */
import { spawn } from 'node:child_process';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAction } from '../../../dialogs/actions.ts';
import { LOCALES } from '../../../src/domain.ts';
import { translator } from '../../../src/services/index.ts';
import { browserSkipReason } from '../../support/browser.ts';
import { type LineStub, startLineStub, type StubRichMenu } from '../../support/lineStub.ts';

const skip = browserSkipReason();
if (skip) console.warn(skip);

const TOKEN = 'test-token-for-the-rich-menu-setup';
const ACTIONS = [{ a: 'book' }, { a: 'my' }, { a: 'ask' }, { a: 'human' }, { a: 'language' }] as const;
const KEYS = ['menu.book', 'menu.my', 'menu.ask', 'menu.human', 'menu.language'];

let stub: LineStub;

/** Runs the command; resolves with its exit code and output. */
function setup(): Promise<{ code: number | null; output: string }> {
  const port = new URL(stub.url).port;
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'line:richmenu'], {
      cwd: new URL('../../../', import.meta.url),
      env: {
        ...process.env,
        LINE_CHANNEL_ACCESS_TOKEN: TOKEN,
        LINE_API_BASE_URL: stub.url,
        // The same stub under another name: uploads must go to the data host.
        LINE_API_DATA_BASE_URL: `http://localhost:${port}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** Width, height and whether the PNG decodes: its signature, IHDR, IDAT inflating to exactly the rows IHDR describes, IEND. */
function png(data: Buffer): { width: number; height: number; decodes: boolean } {
  const signature = data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const width = data.readUInt32BE(16);
  const height = data.readUInt32BE(20);
  const [bitDepth, colourType] = [data[24]!, data[25]!];
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType as 0 | 2 | 4 | 6];
  const idat: Buffer[] = [];
  let offset = 8;
  let ended = false;
  while (offset < data.length) {
    const length = data.readUInt32BE(offset);
    const type = data.toString('latin1', offset + 4, offset + 8);
    if (type === 'IDAT') idat.push(data.subarray(offset + 8, offset + 8 + length));
    if (type === 'IEND') ended = true;
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const decodes = signature && ended && bitDepth === 8 && channels !== undefined && raw.length === height * (1 + width * channels);
  return { width, height, decodes };
}

const ours = () => stub.richMenus().filter((m) => m.name.startsWith('kawasaki-city-bot:'));
const byLocale = (menus: StubRichMenu[]) => new Map(menus.map((m) => [m.name.slice('kawasaki-city-bot:'.length), m]));

beforeAll(async () => {
  stub = await startLineStub();
});
afterAll(async () => {
  await stub?.close();
});

describe.skipIf(skip)('npm run line:richmenu', () => {
  /** A menu someone else made on the channel: never the setup's to delete. */
  let foreign: string;
  let first: Map<string, StubRichMenu>;

  beforeAll(async () => {
    const res = await fetch(`${stub.url}/v2/bot/richmenu`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        size: { width: 2500, height: 843 },
        selected: false,
        name: 'campaign-2026',
        chatBarText: 'Campaign',
        areas: [{ bounds: { x: 0, y: 0, width: 2500, height: 843 }, action: { type: 'postback', data: 'campaign' } }],
      }),
    });
    foreign = ((await res.json()) as { richMenuId: string }).richMenuId;
  });

  it('makes one menu per language, with the menu buttons’ actions and words', { timeout: 120_000 }, async () => {
    const run = await setup();
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toContain(TOKEN);
    first = byLocale(ours());
    expect([...first.keys()].sort()).toEqual([...LOCALES].sort());
    for (const locale of LOCALES) {
      const t = translator(locale);
      const menu = first.get(locale)!;
      expect(menu.size).toEqual({ width: 2500, height: 843 });
      expect(menu.chatBarText).toBe(t('common.menu'));
      expect(menu.areas.map((a) => a.action.data)).toEqual(ACTIONS.map((a) => encodeAction(a)));
      expect(menu.areas.map((a) => a.action.displayText)).toEqual(KEYS.map((k) => t(k)));
      for (const area of menu.areas) {
        expect(area.action.type).toBe('postback');
        if (area.action.displayText!.length <= 20) expect(area.action.label).toBe(area.action.displayText);
      }
      // The areas tile the whole menu: no gap, no overlap.
      const cells = new Set<string>();
      for (const { bounds: b } of menu.areas) for (let x = b.x; x < b.x + b.width; x += 50) for (let y = b.y; y < b.y + b.height; y += 50) cells.add(`${x},${y}`);
      expect(menu.areas.reduce((sum, { bounds: b }) => sum + b.width * b.height, 0)).toBe(2500 * 843);
      expect(cells.size).toBe(menu.areas.reduce((sum, { bounds: b }) => sum + Math.ceil(b.width / 50) * Math.ceil(b.height / 50), 0));
    }
  });

  it('uploads a valid PNG of 2500×843 under 1 MB per language, to the data host', () => {
    const uploads = stub.calls.filter((c) => c.path.endsWith('/content'));
    expect(uploads).toHaveLength(LOCALES.length);
    for (const call of uploads) {
      expect(call.headers.host).toBe(`localhost:${new URL(stub.url).port}`);
      expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
    }
    for (const locale of LOCALES) {
      const image = first.get(locale)!.image!;
      expect(image.contentType).toBe('image/png');
      expect(image.data.length).toBeLessThanOrEqual(1024 * 1024);
      expect(png(image.data)).toEqual({ width: 2500, height: 843, decodes: true });
    }
    // Each language's words: the Japanese, Chinese and English images differ.
    const [ja, zh, en] = ['ja', 'zh', 'en'].map((l) => first.get(l)!.image!.data);
    expect(ja!.equals(zh!)).toBe(false);
    expect(ja!.equals(en!)).toBe(false);
  });

  it('points richmenu-<locale> at each menu and makes the Japanese one the default', () => {
    const aliases = stub.aliases();
    for (const locale of LOCALES) expect(aliases.get(`richmenu-${locale}`)).toBe(first.get(locale)!.richMenuId);
    expect(stub.defaultRichMenu()).toBe(first.get('ja')!.richMenuId);
  });

  it('run again, replaces its own menus (aliases and default follow) and leaves the others', { timeout: 120_000 }, async () => {
    const run = await setup();
    expect(run.code, run.output).toBe(0);
    const second = byLocale(ours());
    expect(second.size).toBe(LOCALES.length);
    for (const locale of LOCALES) {
      expect(second.get(locale)!.richMenuId).not.toBe(first.get(locale)!.richMenuId);
      expect(stub.aliases().get(`richmenu-${locale}`)).toBe(second.get(locale)!.richMenuId);
    }
    expect(stub.defaultRichMenu()).toBe(second.get('ja')!.richMenuId);
    expect(stub.richMenus().map((m) => m.richMenuId)).toContain(foreign);
    expect(stub.richMenus()).toHaveLength(LOCALES.length + 1);
  });
});
