/**
 * Typed questions: the knowledge base's matcher, the urgent check and the feedback counts
 * behind one port for the dialogs.
 */
import type { FeedbackStore } from '../stores/ports.ts';
import { FaqMatcher, type FaqResult, type FaqThresholds } from './faq.ts';
import { type KnowledgeBase, type KnowledgeEntry, loadKnowledge } from './knowledge.ts';
import type { ContactDesk, KnowledgePort } from './ports.ts';
import { japaneseReader } from './reading.ts';
import { foldText } from './searchText.ts';
import { type UrgentCategory, UrgentDetector } from './urgent.ts';

/** What answering questions is built from; made once per process (the reader takes 0.4 s). */
export interface QuestionBrain {
  kb: KnowledgeBase;
  matcher: FaqMatcher;
  urgent: UrgentDetector;
}

/** Loads the knowledge base and urgent patterns and builds the matcher; throws naming a bad field. */
export function buildQuestionBrain(thresholds: FaqThresholds, knowledgeFile?: string): QuestionBrain {
  const kb = loadKnowledge(knowledgeFile);
  return { kb, matcher: new FaqMatcher(kb, thresholds, japaneseReader()), urgent: UrgentDetector.load() };
}

/** How much of a message is matched against the knowledge base (the urgent check reads all of it). */
const MATCHED_CHARACTERS = 300;

export class QuestionService implements KnowledgePort {
  readonly desk: ContactDesk;
  private readonly brain: QuestionBrain;
  private readonly feedbackStore: FeedbackStore;
  private readonly markers: RegExp[];

  constructor(brain: QuestionBrain, feedback: FeedbackStore) {
    this.brain = brain;
    this.feedbackStore = feedback;
    this.desk = brain.kb.desk;
    this.markers = brain.kb.questionMarkers.map((m) => new RegExp(foldText(m), 'u'));
  }

  match(text: string): FaqResult {
    // A question is short; matching a 5,000-character message whole took 100 ms of CPU.
    return this.brain.matcher.match(text.slice(0, MATCHED_CHARACTERS));
  }

  entry(id: string): KnowledgeEntry | undefined {
    return this.brain.matcher.get(id);
  }

  urgent(text: string): UrgentCategory | undefined {
    return this.brain.urgent.detect(text);
  }

  looksLikeQuestion(text: string): boolean {
    const folded = foldText(text);
    return this.markers.some((m) => m.test(folded));
  }

  similarity(a: string, b: string): number {
    return this.brain.matcher.similarity(a.slice(0, MATCHED_CHARACTERS), b.slice(0, MATCHED_CHARACTERS));
  }

  entries(): readonly KnowledgeEntry[] {
    return this.brain.kb.entries;
  }

  async feedback(entryId: string, helpful: boolean): Promise<void> {
    if (this.entry(entryId)) await this.feedbackStore.record(entryId, helpful);
  }
}
