import { describe, expect, it } from 'vitest';
import { validateField } from '../../dialogs/contact.ts';
import { formatPhone } from '../../src/domain.ts';

describe('contact details', () => {
  it.each([
    ['090-1234-5678', '09012345678'],
    ['09012345678', '09012345678'],
    ['０９０－１２３４－５６７８', '09012345678'],
    ['090ー1234ー5678', '09012345678'],
    ['+81 90 1234 5678', '09012345678'],
    ['044-200-3691', '0442003691'],
    ['(044) 200-3691', '0442003691'],
    ['03-1234-5678', '0312345678'],
    ['050-1234-5678', '05012345678'],
    ['0120-123-456', '0120123456'],
  ])('accepts the phone number %s as %s', (typed, stored) => {
    expect(validateField('phone', typed)).toEqual({ ok: true, value: stored });
  });

  it.each([
    ['12345', 'contact.invalid.phoneShape'],
    ['0901234567890', 'contact.invalid.phoneShape'],
    ['090-1234-567', 'contact.invalid.phoneShape'],
    ['00012345678', 'contact.invalid.phoneShape'],
    ['09012345678x', 'contact.invalid.phoneChars'],
    ['電話します', 'contact.invalid.phoneChars'],
  ])('refuses the phone number %s with a reason', (typed, reason) => {
    expect(validateField('phone', typed)).toEqual({ ok: false, reason });
  });

  it('trims and folds spaces in names, and limits their length', () => {
    expect(validateField('name', '  川崎　　花子 ')).toEqual({ ok: true, value: '川崎 花子' });
    expect(validateField('name', '   ')).toEqual({ ok: false, reason: 'contact.invalid.nameEmpty' });
    expect(validateField('name', 'あ'.repeat(41))).toEqual({ ok: false, reason: 'contact.invalid.nameLong' });
    expect(validateField('name', '<script>')).toEqual({ ok: false, reason: 'contact.invalid.nameChars' });
  });

  it('checks email addresses, accepting full-width input', () => {
    expect(validateField('email', ' hanako@example.jp ')).toEqual({ ok: true, value: 'hanako@example.jp' });
    expect(validateField('email', 'ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ')).toEqual({ ok: true, value: 'hanako@example.jp' });
    expect(validateField('email', 'hanako@')).toEqual({ ok: false, reason: 'contact.invalid.email' });
  });

  it('reads numbers back grouped', () => {
    expect(formatPhone('09012345678')).toBe('090-1234-5678');
    expect(formatPhone('0442003691')).toBe('044-200-3691');
    expect(formatPhone('0312345678')).toBe('03-1234-5678');
    expect(formatPhone('0120123456')).toBe('0120-123-456');
  });
});
