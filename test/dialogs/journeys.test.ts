/**
 * The registry of journeys: what staff cards say of a step, and that each journey's parts
 * (state, buttons, menu entry) reach the places that compose them.
 */
import { describe, expect, it } from 'vitest';
import en from '../../locales/en.json' with { type: 'json' };
import ja from '../../locales/ja.json' with { type: 'json' };
import { decodeAction, describeStep, JOURNEYS } from '../../dialogs/journeys.ts';
import { menuChoices } from '../../dialogs/menu.ts';
import { conversationStateSchema, freshState } from '../../dialogs/state.ts';
import { translator } from '../../src/services/index.ts';

describe('step words on staff cards', () => {
  it('come from the journey, and only code-like tokens pass without one', () => {
    const t = translator('en');
    expect(describeStep('booking:screening:in_person', t)).toBe(`${en.booking.staff.journey} › ${en.booking.staff.screening} › ${en.booking.staff.in_person}`);
    expect(describeStep('booking:name', translator('ja'))).toBe(`${ja.booking.staff.journey} › ${ja.booking.staff.contact}`);
    expect(describeStep('myBookings:detail', t)).toBe(`${en.my.staff.journey} › ${en.my.staff.detail}`);
    expect(describeStep('booking:newStep', t)).toBe(`${en.booking.staff.journey} › newStep`);
    expect(describeStep('menu:Taro Yamada 090-1234-5678', t)).toBe(en.menu.staff);
    expect(describeStep('handoff', t)).toBe(en.handoff.staff);
    expect(describeStep('山田', t)).toBe('-');
  });
});

describe('the registry', () => {
  it('gives every journey a menu button (but those that start anywhere), its stored state and its buttons', () => {
    const labels = menuChoices(translator('ja')).map((c) => c.label);
    for (const journey of JOURNEYS) {
      if (journey.entry.anywhere) expect(labels).not.toContain(translator('ja')(journey.entry.label));
      else expect(labels).toContain(translator('ja')(journey.entry.label));
      expect(decodeAction(JSON.stringify(journey.entry.action))).toEqual(journey.entry.action);
    }
    const state = { ...freshState('ja', 0), flow: { name: 'myBookings', step: 'list' } };
    expect(conversationStateSchema.safeParse(state).success).toBe(true);
    expect(conversationStateSchema.safeParse({ ...state, flow: { name: 'myBookings', step: 'nowhere' } }).success).toBe(false);
  });
});
