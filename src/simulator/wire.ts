import type { ChatPlan, PlanDelta, PlanStep } from './plan.js';

// OpenAI's chat-completions wire format for a plan. Pure functions: the server
// writes what they return.

const FINGERPRINT = 'fp_rxllm_sim';

/**
 * Writes a plan's stream: {@link StreamWriter.step} gives the Server-Sent Events for one step
 * (on the first step a role chunk per choice, `{"role":"assistant","content":""}`, then one
 * chunk per delta); {@link StreamWriter.end} the usage chunk (when usage was asked for) and
 * `data: [DONE]`. Chunks carry `"usage": null` when usage was asked for, as OpenAI's do.
 */
export interface StreamWriter {
  step(step: PlanStep, first: boolean): string;
  end(): string;
}

/** A {@link StreamWriter} for one plan. */
export function streamWriter(plan: ChatPlan, created: number): StreamWriter {
  // Every chunk of a stream shares its envelope, so it is serialised once; per token only the delta is.
  const head = `data: {"id":${JSON.stringify(plan.id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(plan.model)},"system_fingerprint":"${FINGERPRINT}","choices":[`;
  const tail = plan.includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
  return {
    step: (step, first) => {
      let out = '';
      if (first) {
        for (const choice of plan.choices) {
          out += `${head}{"index":${choice.index},"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}${tail}`;
        }
      }
      for (const delta of step.deltas) out += `${head}${choiceDelta(delta)}${tail}`;
      return out;
    },
    end: () => `${plan.includeUsage ? `${head}],"usage":${JSON.stringify(plan.usage)}}\n\n` : ''}data: [DONE]\n\n`,
  };
}

/** A non-streaming response body (`chat.completion`). */
export function completionBody(plan: ChatPlan, created: number): string {
  return JSON.stringify({
    id: plan.id,
    object: 'chat.completion',
    created,
    model: plan.model,
    system_fingerprint: FINGERPRINT,
    choices: plan.choices.map((choice) => ({
      index: choice.index,
      message: {
        role: 'assistant',
        content: choice.content,
        refusal: null,
        ...(choice.toolCalls.length > 0
          ? { tool_calls: choice.toolCalls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })) }
          : {}),
      },
      logprobs: null,
      finish_reason: choice.finishReason,
    })),
    usage: plan.usage,
  });
}

/** An error body in OpenAI's shape. */
export function errorBody(message: string, type: string, code: string | null = null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

function choiceDelta(delta: PlanDelta): string {
  switch (delta.type) {
    case 'text':
      return `{"index":${delta.choice},"delta":{"content":${JSON.stringify(delta.text)}},"logprobs":null,"finish_reason":null}`;
    case 'finish':
      return `{"index":${delta.choice},"delta":{},"logprobs":null,"finish_reason":${JSON.stringify(delta.reason)}}`;
    case 'tool-call': {
      const call =
        delta.id === undefined
          ? { index: delta.callIndex, function: { arguments: delta.arguments } }
          : { index: delta.callIndex, id: delta.id, type: 'function', function: { name: delta.name, arguments: delta.arguments } };
      return JSON.stringify({ index: delta.choice, delta: { tool_calls: [call] }, logprobs: null, finish_reason: null });
    }
  }
}
