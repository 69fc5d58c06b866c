/**
 * Guards the matcher's figures on the labelled set at the shipped thresholds (the
 * targets of the inquiry issue). `npm run eval:faq` prints the same figures in full.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { FaqMatcher } from '../../src/services/faq.ts';
import { loadKnowledge } from '../../src/services/knowledge.ts';
import { japaneseReader } from '../../src/services/reading.ts';
import { UrgentDetector } from '../../src/services/urgent.ts';
import { figures, loadQuestions, observe } from './evaluate.ts';

describe('question matching on the labelled set', () => {
  const questions = loadQuestions();
  const thresholds = loadConfig({}).faq;
  const matcher = new FaqMatcher(loadKnowledge(), thresholds, japaneseReader());
  const f = figures(observe(questions, matcher, (q) => matcher.namesElsewhere(q), UrgentDetector.load()), thresholds);

  it('is a set of the size and mix the issue asks for', () => {
    expect(questions.length).toBeGreaterThanOrEqual(300);
    expect(f.out_of_scope).toBeGreaterThanOrEqual(80);
    expect(questions.filter((q) => q.kind === 'urgent').length).toBeGreaterThanOrEqual(40);
    expect(questions.filter((q) => q.kind === 'urgent_lookalike').length).toBeGreaterThanOrEqual(40);
  });

  it('answers in scope: top-1 ≥ 90 %, the right entry answered or offered ≥ 97 %', () => {
    expect(f.top1).toBeGreaterThanOrEqual(0.9);
    expect(f.offered).toBeGreaterThanOrEqual(0.97);
  });

  it('gives at most 3 % confident answers to questions it cannot answer (other cities, other agencies, uncovered)', () => {
    expect(f.oos_wrong).toBeLessThanOrEqual(0.03);
  });

  it('recognises every urgent message, with at most 2 % false alarms', () => {
    expect(f.urgent_recall).toBe(1);
    expect(f.urgent_false_alarms).toBeLessThanOrEqual(0.02);
  });
});
