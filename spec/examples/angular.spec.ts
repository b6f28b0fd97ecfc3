/*
 * The Angular example (examples/angular) under Angular's own injector, zoneless (no zone.js is
 * loaded), in virtual time: the pipeline runs on a scripted transport inside TestScheduler.run,
 * which also virtualises the component's typing pause.
 */
import '@angular/compiler'; // JIT: compiles the component's template when it is first reflected
import { Injector, reflectComponentType, runInInjectionContext, type DestroyableInjector } from '@angular/core';
import { asyncScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { AnalysisComponent } from '../../examples/angular/analysis.component';
import { ANALYSIS_PIPELINE, AnalysisService, type AnalysisView } from '../../examples/angular/analysis.service';
import type { LlmRequest } from 'rxllm';
import { scriptedTransport, textScript, type ScriptedTransport } from 'rxllm/testing';
import { contentAnalysis } from '../../examples/angular/contentAnalysis';

const MESSAGE = 'Support kept me on hold for an hour and never fixed the billing error.';

/** Answers by prompt: every answer streams a word every 10 ms from 100 ms; a text with FAIL breaks the summary. */
function llmFor(): ScriptedTransport {
  return scriptedTransport((request: LlmRequest) => {
    const prompt = String(request.messages[0]!.content);
    const answer = (text: string) => textScript(text, { at: 100, every: 10 });
    if (prompt.startsWith('Classify')) return answer('negative');
    if (prompt.startsWith('Summarize')) return prompt.includes('FAIL') ? [{ at: 120, error: 'server' }] : answer('Billing error left unfixed after an hour on hold.');
    if (prompt.startsWith('Extract')) return answer('{"value": ["support", "billing", "hold"]}');
    return answer('We are sorry about the wait and will fix the billing error today.');
  });
}

const RECORD = {
  sentiment: 'negative',
  summary: 'Billing error left unfixed after an hour on hold.',
  keywords: ['support', 'billing', 'hold'],
  reply: 'We are sorry about the wait and will fix the billing error today.',
};

function setup(): { injector: DestroyableInjector; llm: ScriptedTransport } {
  const llm = llmFor();
  const pipeline = contentAnalysis(llm);
  const injector = Injector.create({ providers: [AnalysisService, { provide: ANALYSIS_PIPELINE, useValue: pipeline }] });
  return { injector, llm };
}

const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function summaryText(view: AnalysisView): string | undefined {
  if (view.status !== 'running' && view.status !== 'done') return undefined;
  const node = view.state.nodes.summary;
  return 'textSoFar' in node ? node.textSoFar : undefined;
}

describe('examples/angular: AnalysisService', () => {
  it('from Angular’s injector: idle, then running views with the text growing token by token, then done with the record', () => {
    testScheduler().run(({ flush }) => {
      const { injector, llm } = setup();
      const views: AnalysisView[] = [];
      injector.get(AnalysisService).analysis$.subscribe((view) => views.push(view));
      injector.get(AnalysisService).analyse(`  ${MESSAGE}  `);
      flush();

      expect(views[0]).toEqual({ status: 'idle' });
      const summaries = [...new Set(views.map(summaryText).filter((text): text is string => !!text))];
      expect(summaries.slice(0, 3)).toEqual(['Billing ', 'Billing error ', 'Billing error left ']);
      expect(views.at(-1)).toMatchObject({ status: 'done', text: MESSAGE, record: RECORD });
      expect(llm.requests.map((request) => request.outcome)).toEqual(['completed', 'completed', 'completed', 'completed']);
    });
  });

  it('a failed run is an error view, and the next text still runs (catchError inside switchMap)', () => {
    testScheduler().run(({ flush }) => {
      const { injector } = setup();
      const service = injector.get(AnalysisService);
      const views: AnalysisView[] = [];
      service.analysis$.subscribe({ next: (view) => views.push(view), complete: () => views.push({ status: 'idle' }) });
      service.analyse('FAIL: the summary of this one breaks');
      flush();
      expect(views.at(-1)).toMatchObject({ status: 'error', code: 'server' });

      service.analyse(MESSAGE);
      flush();
      expect(views.at(-1)).toMatchObject({ status: 'done', record: RECORD });
    });
  });

  it('a new text cancels the run in flight: its requests are aborted', () => {
    testScheduler().run(({ flush }) => {
      const { injector, llm } = setup();
      const service = injector.get(AnalysisService);
      const views: AnalysisView[] = [];
      service.analysis$.subscribe((view) => views.push(view));
      service.analyse('first text');
      asyncScheduler.schedule(() => service.analyse(MESSAGE), 50); // virtual time inside run()
      flush();
      expect(llm.requests.slice(0, 3).map((request) => [request.outcome, request.endedAt])).toEqual([
        ['cancelled', 50],
        ['cancelled', 50],
        ['cancelled', 50],
      ]);
      expect(views.at(-1)).toMatchObject({ status: 'done', text: MESSAGE });
    });
  });
});

describe('examples/angular: AnalysisComponent', () => {
  it('is a standalone component whose template compiles (JIT)', () => {
    const mirror = reflectComponentType(AnalysisComponent);
    expect(mirror).toMatchObject({ selector: 'app-analysis', isStandalone: true });
  });

  it('reads the service with toSignal, analyses a draft after the typing pause, and destroying it aborts the run', () => {
    testScheduler().run(({ flush }) => {
      const { injector, llm } = setup();
      const component = runInInjectionContext(injector, () => new AnalysisComponent());
      const seen: { at: string; cards: string }[] = [];
      const look = (at: string) => seen.push({ at, cards: component.cards().map((card) => `${card.name}:${card.status}:${card.text}`).join(' | ') });

      expect(component.view()).toEqual({ status: 'idle' });
      component.draft('Support kept');
      // Virtual time inside run(): still typing at 300 ms, so the first draft is never sent; the
      // last one is sent after the 600 ms pause (at 900), its first tokens come at 1000, 1010, 1020.
      asyncScheduler.schedule(() => component.draft(MESSAGE), 300);
      asyncScheduler.schedule(() => look('before the pause'), 850);
      asyncScheduler.schedule(() => look('streaming'), 1022);
      asyncScheduler.schedule(() => injector.destroy(), 1025);
      flush();

      expect(seen[0]).toEqual({ at: 'before the pause', cards: '' });
      expect(seen[1]!.cards).toBe('sentiment:done:negative | summary:streaming:Billing error left  | keywords:streaming:{"value": ["support", "billing",  | reply:pending:');
      // Only the final draft was sent, and destroying the component aborted what was still streaming.
      expect(llm.requests.map((request) => [request.model, request.subscribedAt, String(request.request.messages[0]!.content).endsWith(MESSAGE)])).toEqual([
        ['gpt-4o-mini', 900, true],
        ['gpt-4o-mini', 900, true],
        ['gpt-4o-mini', 900, true],
      ]);
      expect(llm.requests.map((request) => [request.outcome, request.endedAt])).toEqual([
        ['completed', 1000],
        ['cancelled', 1025],
        ['cancelled', 1025],
      ]);
      expect(llm.inFlight).toBe(0);
    });
  });

  it('shows an error from the service as text, and the record once done', () => {
    testScheduler().run(({ flush }) => {
      const { injector } = setup();
      const component = runInInjectionContext(injector, () => new AnalysisComponent());
      component.analyse('FAIL again');
      flush();
      expect(component.error()).toMatch(/\(server\)$/);
      component.analyse(MESSAGE);
      flush();
      expect(component.error()).toBe('');
      expect(component.record()).toEqual(RECORD);
      injector.destroy();
    });
  });
});
