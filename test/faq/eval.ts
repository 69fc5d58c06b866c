/**
 * `npm run eval:faq`: the question matcher on the labelled set. Prints the figures of the
 * shipped thresholds and of the sweep's best, compares the bot's scorer with MiniSearch
 * fed the same normalisation and features, and ends with one JSON line for tracking.
 */
import MiniSearch from 'minisearch';
import { loadConfig } from '../../src/config.ts';
import { FaqMatcher, type FaqMatch } from '../../src/services/faq.ts';
import { loadKnowledge } from '../../src/services/knowledge.ts';
import { japaneseReader } from '../../src/services/reading.ts';
import { features, normalizeForSearch } from '../../src/services/searchText.ts';
import { UrgentDetector } from '../../src/services/urgent.ts';
import { type Figures, figures, loadQuestions, type Observation, observe, type Ranker, sweep } from './evaluate.ts';

const kb = loadKnowledge();
const questions = loadQuestions();
const detector = UrgentDetector.load();
const shipped = loadConfig({}).faq;
const matcher = new FaqMatcher(kb, shipped, japaneseReader());
const plain = new FaqMatcher(kb, shipped);
const elsewhere = (q: string) => matcher.namesElsewhere(q);

/** MiniSearch (BM25) over the same features; its unbounded score is mapped to 0-1 by 1 - e^(-s/τ). */
function miniSearchRanker(): Ranker {
  const mini = new MiniSearch<{ id: string; text: string; keywords: string }>({
    fields: ['text', 'keywords'],
    tokenize: (text) => features(normalizeForSearch(text)),
    processTerm: (term) => term,
    searchOptions: { boost: { keywords: 1.5 }, combineWith: 'OR' },
  });
  mini.addAll(
    kb.entries.map((e) => ({
      id: e.id,
      text: [...e.questions.ja, ...e.questions.en, e.title.ja, e.title.en].join('\n'),
      keywords: [...e.keywords.ja, ...e.keywords.en].join('\n'),
    })),
  );
  const byId = new Map(kb.entries.map((e) => [e.id, e]));
  const tops = questions.map((q) => mini.search(q.q)[0]?.score ?? 0).sort((a, b) => a - b);
  const tau = tops[Math.floor(tops.length / 2)] || 1;
  return {
    rank: (text, limit = 3): FaqMatch[] =>
      mini
        .search(text)
        .slice(0, limit)
        .map((r) => ({ entry: byId.get(String(r.id))!, score: 1 - Math.exp(-r.score / tau) })),
  };
}

function report(name: string, observations: Observation[]): Figures {
  const atShipped = figures(observations, shipped);
  const best = sweep(observations);
  console.log(`\n== ${name}`);
  console.log(`shipped thresholds ${JSON.stringify(shipped)}`);
  print(atShipped);
  if (best) {
    console.log(`sweep's best ${JSON.stringify(best.thresholds)}`);
    print(best.figures);
  } else console.log('sweep: no thresholds keep confident wrong answers out of scope at or under 3 %');
  return atShipped;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function print(f: Figures): void {
  console.log(
    [
      `  questions ${f.questions} (in scope ${f.in_scope}, out of scope ${f.out_of_scope})`,
      `  top-1 in scope ${pct(f.top1)}; answered right ${pct(f.answered)}; answered wrong ${pct(f.wrong_answers)}`,
      `  did-you-mean ${pct(f.did_you_mean)} (right entry among the offers ${pct(f.did_you_mean_right)}); right entry answered or offered ${pct(f.offered)}`,
      `  out of scope answered confidently ${pct(f.oos_wrong)}; told plainly "not known" ${pct(f.oos_declined)}`,
      `  urgent recall ${pct(f.urgent_recall)}; false alarms ${pct(f.urgent_false_alarms)} (urgent-looking questions: ${pct(f.lookalike_false_alarms)})`,
      `  per question p50 ${f.p50_ms} ms, p99 ${f.p99_ms} ms`,
    ].join('\n'),
  );
}

function printKinds(f: Figures): void {
  console.log('\nby kind (in scope: right = answered right, offered = answered or offered; out of scope and urgent: right = handled right)');
  for (const [kind, k] of Object.entries(f.by_kind).sort()) {
    console.log(`  ${kind.padEnd(18)} n=${String(k.n).padStart(3)}  right ${pct(k.right / k.n).padStart(7)}  offered ${pct(k.offered / k.n).padStart(7)}  wrong ${pct(k.wrong / k.n).padStart(7)}`);
  }
}

// Warm up the JIT so that timings are of steady state, as in a running bot.
observe(questions, matcher, elsewhere, detector);
const ours = observe(questions, matcher, elsewhere, detector);
const oursAtShipped = report('bot scorer (IDF-weighted cosine over bigrams, keyword-widened variants)', ours);
printKinds(oursAtShipped);
observe(questions, plain, elsewhere, detector);
report('bot scorer without readings', observe(questions, plain, elsewhere, detector));
const mini = miniSearchRanker();
observe(questions, mini, elsewhere, detector);
report('MiniSearch 7 (BM25) with the same tokenizer', observe(questions, mini, elsewhere, detector));

if (process.argv.includes('--misses')) {
  console.log('\nmisses at the shipped thresholds:');
  for (const o of ours) {
    const q = o.question;
    const top = o.nearest.map((m) => `${m.entry.id}:${m.score.toFixed(2)}`).join(' ');
    if (q.kind === 'urgent' ? !o.urgent : o.urgent) console.log(`  URGENT ${q.kind === 'urgent' ? 'missed' : 'false alarm'}: ${q.q}`);
    if (q.kind === 'urgent') continue;
    const best = o.nearest[0];
    if (q.expect === null ? best && best.score >= shipped.answer && !o.elsewhere : best?.entry.id !== q.expect) console.log(`  [${q.kind}] ${q.q} → expected ${q.expect}; got ${top}`);
  }
}

const { questions: n, top1, offered, oos_wrong, urgent_recall, urgent_false_alarms, p99_ms } = oursAtShipped;
console.log(JSON.stringify({ questions: n, top1, offered, oos_wrong, urgent_recall, urgent_false_alarms, p99_ms, answered: oursAtShipped.answered, did_you_mean: oursAtShipped.did_you_mean }));
