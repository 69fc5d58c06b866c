/**
 * The question matcher in-process, as the app builds it (run by run.ts in its own process, so
 * that its memory is its own and nothing else runs in it):
 *
 * - the one-off cost: the morphological analyser's load (Lindera/IPADIC, compiled to
 *   WebAssembly) and the whole build (`buildQuestionBrain(loadConfig({}).faq)`, as
 *   `defaultQuestionBrain()` does), in ms and in resident memory (RSS) gained;
 * - per question: the urgent check and the match, as every typed turn runs them, over every
 *   question of test/faq/questions.json, `rounds` times after a warm-up round.
 *
 *   node --expose-gc bench/matcher.ts [rounds]
 *
 * Prints one JSON line (`MatcherFigures`).
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.ts';
import { buildQuestionBrain } from '../src/services/questions.ts';
import { japaneseReader } from '../src/services/reading.ts';
import { allQuestions, percentile, questionSample, round } from './common.ts';

export interface MatcherFigures {
  questions: number;
  rounds: number;
  /** Loading the analyser and its dictionary (the first `japaneseReader()`). */
  reader_load_ms: number;
  /** Knowledge base, urgent patterns and the matcher's index, once the reader is loaded. */
  index_build_ms: number;
  /** RSS gained by the whole build (reader, knowledge base, index), after a GC. */
  rss_increase_mb: number;
  rss_mb: number;
  /** Per question: `urgent.detect(q)` + `matcher.match(q)`. */
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** What the bench's question turn meets: bands of its sample, and urgent flags (expected 0). */
  sample_bands: Record<string, number>;
  sample_urgent: number;
}

const rounds = Math.max(1, Number(process.argv[2] ?? 5));
const gc = (globalThis as { gc?: () => void }).gc;
const rssMb = () => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};

const questions = allQuestions().map((q) => q.q);
const thresholds = loadConfig({}).faq;
const rss0 = rssMb();
let t = performance.now();
japaneseReader();
const readerMs = performance.now() - t;
t = performance.now();
const brain = buildQuestionBrain(thresholds);
const buildMs = performance.now() - t;
const rss1 = rssMb();

const turn = (q: string) => {
  brain.urgent.detect(q);
  return brain.matcher.match(q);
};
for (const q of questions) turn(q); // warm-up: JIT, caches
const times = new Float64Array(questions.length * rounds);
let k = 0;
for (let r = 0; r < rounds; r++) {
  for (const q of questions) {
    const start = performance.now();
    turn(q);
    times[k++] = performance.now() - start;
  }
}

const sample = questionSample();
const bands: Record<string, number> = {};
for (const { q } of sample) {
  const band = turn(q).band;
  bands[band] = (bands[band] ?? 0) + 1;
}

const figures: MatcherFigures = {
  questions: questions.length,
  rounds,
  reader_load_ms: round(readerMs, 0),
  index_build_ms: round(buildMs, 0),
  rss_increase_mb: round(rss1 - rss0, 0),
  rss_mb: round(rssMb(), 0),
  p50_ms: round(percentile(times, 50), 3),
  p99_ms: round(percentile(times, 99), 3),
  max_ms: round(percentile(times, 100), 3),
  sample_bands: bands,
  sample_urgent: sample.filter(({ q }) => brain.urgent.detect(q) !== undefined).length,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
