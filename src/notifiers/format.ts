/** Small helpers shared by the staff notifiers. */

/** A step name such as `booking:time:in_person`: short and free of anything typed. */
const STEP_NAME = /^[A-Za-z][\w.:-]{0,63}$/;

/**
 * `ticket.context` when it is a step name; anything else (it should never be) is left out,
 * so that no free text can reach a staff group or a third-party endpoint by this field.
 */
export function stepName(context: string | undefined): string | undefined {
  return context !== undefined && STEP_NAME.test(context) ? context : undefined;
}

/** The event a ticket's current status stands for, for idempotency keys. */
export function changeEvent(status: 'open' | 'claimed' | 'closed'): string {
  return status === 'open' ? 'reopened' : status;
}
