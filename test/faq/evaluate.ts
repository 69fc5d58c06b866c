/**
 * Scores a question matcher and the urgent check on the labelled set
 * (`test/faq/questions.json`). Used by `npm run eval:faq` (which prints, sweeps the
 * thresholds and compares matchers) and by the test that guards the figures.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { bandOf, type FaqMatch, type FaqThresholds } from '../../src/services/faq.ts';
import type { UrgentDetector } from '../../src/services/urgent.ts';

const questionSchema = z.strictObject({
  q: z.string().min(1),
  /** The entry that should answer, or null where the bot must not answer confidently. */
  expect: z.string().nullable(),
  kind: z.string(),
  urgent: z.string().optional(),
});
export type LabelledQuestion = z.infer<typeof questionSchema>;

export const QUESTIONS_FILE = new URL('./questions.json', import.meta.url);

export function loadQuestions(): LabelledQuestion[] {
  return z.array(questionSchema).parse(JSON.parse(readFileSync(QUESTIONS_FILE, 'utf8')));
}

/** What the evaluation needs of a matcher: a ranking with scores, and bands from it. */
export interface Ranker {
  rank(text: string, limit?: number): FaqMatch[];
}

export interface Figures {
  questions: number;
  in_scope: number;
  out_of_scope: number;
  /** Best-ranked entry is the right one (in scope). */
  top1: number;
  /** Answered outright with the right entry (in scope). */
  answered: number;
  /** Offered as "did you mean" (in scope). */
  did_you_mean: number;
  /** Of the did-you-mean offers, how often the right entry was among them. */
  did_you_mean_right: number;
  /** Right entry answered, or offered ("did you mean", or among an answer's related questions), in scope. */
  offered: number;
  /** Answered outright with a wrong entry (in scope). */
  wrong_answers: number;
  /** Out of scope, answered outright (confident wrong answers). */
  oos_wrong: number;
  /** Out of scope, told plainly that the bot does not know (no guesses offered). */
  oos_declined: number;
  urgent_recall: number;
  urgent_false_alarms: number;
  /** False alarms among the urgent-looking questions only. */
  lookalike_false_alarms: number;
  p50_ms: number;
  p99_ms: number;
  by_kind: Record<string, { n: number; right: number; offered: number; wrong: number }>;
}

/** A question and what the bot made of it, once, so that a threshold sweep need not re-rank. */
export interface Observation {
  question: LabelledQuestion;
  nearest: FaqMatch[];
  elsewhere: boolean;
  urgent: boolean;
  ms: number;
}

/** Timed runs per question; its time is their median, so that one GC pause or a busy core does not count as the matcher's. */
const TIMED_RUNS = 5;

/** Runs every question (timed: urgent check, ranking and the elsewhere check together). */
export function observe(questions: LabelledQuestion[], ranker: Ranker, elsewhere: (q: string) => boolean, detector: UrgentDetector): Observation[] {
  return questions.map((question) => {
    const times: number[] = [];
    let result: Omit<Observation, 'question' | 'ms'> | undefined;
    for (let run = 0; run < TIMED_RUNS; run++) {
      const start = performance.now();
      const urgent = detector.detect(question.q) !== undefined;
      const nearest = ranker.rank(question.q, 3);
      const away = elsewhere(question.q);
      times.push(performance.now() - start);
      result = { nearest, elsewhere: away, urgent };
    }
    return { question, ...result!, ms: times.sort((a, b) => a - b)[Math.floor(TIMED_RUNS / 2)]! };
  });
}

const isUrgent = (q: LabelledQuestion) => q.kind === 'urgent';
const inScope = (q: LabelledQuestion) => q.expect !== null && !isUrgent(q);
const outOfScope = (q: LabelledQuestion) => q.expect === null && !isUrgent(q);

function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The figures for one set of thresholds. */
export function figures(observations: Observation[], t: FaqThresholds): Figures {
  const by_kind: Figures['by_kind'] = {};
  let top1 = 0, answered = 0, dym = 0, dymRight = 0, offered = 0, wrong = 0, oosWrong = 0, oosDeclined = 0;
  let urgentHit = 0, falseAlarm = 0, lookalikeAlarm = 0;
  const scope = observations.filter((o) => inScope(o.question));
  const oos = observations.filter((o) => outOfScope(o.question));
  const urgent = observations.filter((o) => isUrgent(o.question));
  const calm = observations.filter((o) => !isUrgent(o.question));
  const lookalikes = observations.filter((o) => o.question.kind === 'urgent_lookalike');
  for (const o of observations) {
    const q = o.question;
    const kind = (by_kind[q.kind] ??= { n: 0, right: 0, offered: 0, wrong: 0 });
    kind.n++;
    if (isUrgent(q)) {
      if (o.urgent) urgentHit++;
      if (o.urgent) kind.right++;
      continue;
    }
    if (o.urgent) {
      falseAlarm++;
      if (q.kind === 'urgent_lookalike') lookalikeAlarm++;
    }
    const result = bandOf(o.nearest, t, o.elsewhere);
    if (q.expect === null) {
      if (result.band === 'answer') {
        oosWrong++;
        kind.wrong++;
      } else kind.right++;
      if (result.band === 'unknown') oosDeclined++;
      continue;
    }
    if (o.nearest[0]?.entry.id === q.expect) top1++;
    if (result.band === 'answer') {
      if (result.best.entry.id === q.expect) {
        answered++;
        offered++;
        kind.right++;
        kind.offered++;
      } else {
        wrong++;
        kind.wrong++;
        // The answer card also shows the runners-up: the right one among them is still offered.
        if (result.related.some((m) => m.entry.id === q.expect)) {
          offered++;
          kind.offered++;
        }
      }
    } else if (result.band === 'suggest') {
      dym++;
      if (result.offers.some((m) => m.entry.id === q.expect)) {
        dymRight++;
        offered++;
        kind.offered++;
      }
    }
  }
  const ms = observations.map((o) => o.ms).sort((a, b) => a - b);
  const rate = (n: number, of: number) => round(of === 0 ? 0 : n / of);
  return {
    questions: observations.length,
    in_scope: scope.length,
    out_of_scope: oos.length,
    top1: rate(top1, scope.length),
    answered: rate(answered, scope.length),
    did_you_mean: rate(dym, scope.length),
    did_you_mean_right: rate(dymRight, dym),
    offered: rate(offered, scope.length),
    wrong_answers: rate(wrong, scope.length),
    oos_wrong: rate(oosWrong, oos.length),
    oos_declined: rate(oosDeclined, oos.length),
    urgent_recall: rate(urgentHit, urgent.length),
    urgent_false_alarms: rate(falseAlarm, calm.length),
    lookalike_false_alarms: rate(lookalikeAlarm, lookalikes.length),
    p50_ms: round(quantile(ms, 0.5)),
    p99_ms: round(quantile(ms, 0.99)),
    by_kind,
  };
}

/**
 * The thresholds that serve residents best on the set: no more than 3 % confident wrong
 * answers out of scope, then the most value to residents: a right answer 1, the right
 * entry among "did you mean" offers 0.5 (one tap more), a wrong answer -2, and a plain
 * "I don't know" to a question out of scope 0.1 (better than guesses to wave away).
 */
export function sweep(observations: Observation[]): { thresholds: FaqThresholds; figures: Figures } | undefined {
  let best: { thresholds: FaqThresholds; figures: Figures; key: number[] } | undefined;
  for (let offer = 0.1; offer <= 0.5001; offer += 0.025) {
    for (let answer = offer; answer <= 0.9001; answer += 0.025) {
      for (let margin = 0; margin <= 0.2001; margin += 0.02) {
        const thresholds = { answer: round(answer), margin: round(margin), offer: round(offer) };
        const f = figures(observations, thresholds);
        if (f.oos_wrong > 0.03) continue;
        // An answer outright is worth a tap more than an offer; a wrong answer costs twice a right one.
        const key = [round(f.answered + 0.5 * (f.offered - f.answered) - 2 * f.wrong_answers + 0.1 * f.oos_declined), f.offered];
        if (!best || key.some((k, i) => k !== best!.key[i]) && greater(key, best.key)) best = { thresholds, figures: f, key };
      }
    }
  }
  return best && { thresholds: best.thresholds, figures: best.figures };
}

function greater(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}
