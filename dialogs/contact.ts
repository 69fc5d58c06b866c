/**
 * Validation of the contact details a citizen types. Each field is checked alone, so a
 * wrong phone number is re-asked without losing the name already given. Failures carry a
 * locale key that says why, not the value.
 */
import { z } from 'zod';

/**
 * Characters people type as hyphens or spacing in phone numbers: dashes of every width, the
 * katakana prolonged sound mark (U+30FC, often typed for a hyphen), full-width parentheses.
 */
const PHONE_SEPARATORS = /[\s\-\u2010-\u2015\u2212\u30fc\uff0d()\uff08\uff09.]/g;

/** Prefixes of 11-digit numbers (mobile, IP, 020): 10 digits after one is a typo, not a landline. */
const MOBILE_PREFIX = /^0[25789]0/;

export const nameSchema = z
  .string()
  .transform((s) => s.normalize('NFKC').replace(/\s+/g, ' ').trim())
  .pipe(
    z
      .string()
      .min(1, 'contact.invalid.nameEmpty')
      .max(40, 'contact.invalid.nameLong')
      .refine((s) => !/[\p{Cc}<>]/u.test(s), 'contact.invalid.nameChars'),
  );

/**
 * Japanese phone numbers in domestic form, digits only: 10 digits for landlines and
 * 0120 numbers, 11 for mobile (070/080/090), IP (050) and 020 numbers. `+81` becomes `0`.
 */
export const phoneSchema = z
  .string()
  .transform((s) => s.normalize('NFKC').replace(PHONE_SEPARATORS, '').replace(/^\+81/, '0'))
  .pipe(
    z
      .string()
      .regex(/^\d+$/, 'contact.invalid.phoneChars')
      .refine((s) => (/^0[1-9]\d{8}$/.test(s) && !MOBILE_PREFIX.test(s)) || /^0[25789]0\d{8}$/.test(s), 'contact.invalid.phoneShape'),
  );

export const emailSchema = z
  .string()
  .transform((s) => s.normalize('NFKC').trim())
  .pipe(z.email('contact.invalid.email').max(254, 'contact.invalid.email'));

/** The fields asked for, in order. */
export type ContactField = 'name' | 'phone' | 'email';

const schemas: Record<ContactField, z.ZodType<string, string>> = {
  name: nameSchema,
  phone: phoneSchema,
  email: emailSchema,
};

/** Validates one field: the normalised value, or the locale key of the reason it is wrong. */
export function validateField(field: ContactField, text: string): { ok: true; value: string } | { ok: false; reason: string } {
  const parsed = schemas[field].safeParse(text);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, reason: parsed.error.issues[0]?.message ?? `contact.invalid.${field}` };
}
