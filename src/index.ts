/* Public surface of "rxllm": explicit named exports, grouped by layer. */

/* Core model */
export { llmRequestSchema, parseRequest, type LlmRequest, type LlmMessage } from './core/request.js';
export {
  isContentEvent,
  type LlmEvent,
  type TextEvent,
  type ReasoningEvent,
  type RefusalEvent,
  type ToolCallEvent,
  type UsageEvent,
  type FinishEvent,
  type FinishReason,
  type LlmUsage,
} from './core/events.js';
export { RxllmError, isRxllmError, type RxllmErrorCode, type RxllmErrorDetails } from './core/errors.js';
export { withMiddleware, type Transport, type Middleware } from './core/transport.js';

/* Transports */
export { sseTransport, type SseTransportConfig } from './transport/sse.js';
export { fromEventStream, type EventSourceMessage } from './transport/fromEventStream.js';
export { decodeChatStream } from './transport/decodeChatStream.js';
export { eventsFromResponse } from './transport/eventsFromResponse.js';

/* Operators over events */
export { tokens } from './operators/tokens.js';
export { textSoFar } from './operators/textSoFar.js';
export { text } from './operators/text.js';
export { toolCalls } from './operators/toolCalls.js';
export { result, type LlmResult, type AssembledToolCall } from './operators/result.js';
export type { ChoiceConfig } from './operators/choiceOption.js';

/* Pipelines */
export { step, type Step, type StepConfig } from './pipeline/step.js';
export type { StepState, StepStatus } from './pipeline/StepState.js';
export {
  parallel,
  type Parallel,
  type ParallelConfig,
  type ParallelState,
  type ParallelValue,
  type ParallelInput,
  type Branches,
  type BranchState,
  type BranchValue,
} from './pipeline/parallel.js';
export { graph, type Graph, type GraphConfig, type GraphNode, type GraphNodeState, type GraphState } from './pipeline/graph.js';
export { criticalPath, type TimelineEntry } from './pipeline/criticalPath.js';
export { finalValue } from './pipeline/finalValue.js';
export type { Progress, ProgressRunning, ProgressDone, ProgressFailed, Runnable } from './pipeline/Progress.js';
