import type { LlmEvent } from '../core/events.js';
import type { ChatPlan, PlanDelta } from './plan.js';

// These mirror what the SSE decoder makes of the simulator server's wire format,
// so the in-process transport and sseTransport-over-HTTP emit identical events.

/** The event a stream delta becomes. */
export function deltaEvent(delta: PlanDelta): LlmEvent {
  if (delta.type !== 'tool-call') return { ...delta };
  const event: LlmEvent = { type: 'tool-call', choice: delta.choice, callIndex: delta.callIndex, arguments: delta.arguments };
  if (delta.id !== undefined) event.id = delta.id;
  if (delta.name !== undefined) event.name = delta.name;
  return event;
}

/** The events of a whole (non-streaming) response, choice by choice, before the usage event. */
export function wholeResponseEvents(plan: ChatPlan): LlmEvent[] {
  const events: LlmEvent[] = [];
  for (const choice of plan.choices) {
    if (choice.content) events.push({ type: 'text', choice: choice.index, text: choice.content });
    choice.toolCalls.forEach((call, callIndex) =>
      events.push({ type: 'tool-call', choice: choice.index, callIndex, id: call.id, name: call.name, arguments: call.arguments }),
    );
    events.push({ type: 'finish', choice: choice.index, reason: choice.finishReason });
  }
  return events;
}

/** The usage event that ends a response. */
export function usageEvent(plan: ChatPlan): LlmEvent {
  return { type: 'usage', choice: 0, usage: { ...plan.usage } };
}
