/**
 * A standalone component that reads the {@link AnalysisService} with signals: `toSignal` for the
 * view, `computed` for what the template shows, `takeUntilDestroyed` for the one subscription the
 * component owns (analyse-as-you-type). Works with and without zone.js: signals tell Angular
 * what changed either way.
 */
import { ChangeDetectionStrategy, Component, computed, inject, InjectionToken } from '@angular/core';
import { takeUntilDestroyed, toSignal } from '@angular/core/rxjs-interop';
import { asyncScheduler, debounceTime, type SchedulerLike, Subject } from 'rxjs';
import { AnalysisService, type AnalysisView } from './analysis.service';

/** The clock of the typing pause (`asyncScheduler` unless provided): a test can provide a virtual one. */
export const DRAFT_SCHEDULER = new InjectionToken<SchedulerLike>('analysis draft scheduler');

/** One card of the view: a pipeline node and its text so far. */
export interface NodeCard {
  name: string;
  status: string;
  text: string;
}

@Component({
  selector: 'app-analysis',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <textarea #input rows="4" placeholder="Paste a customer message" (input)="draft(input.value)"></textarea>
    <button type="button" (click)="analyse(input.value)">Analyse</button>

    @switch (view().status) {
      @case ('idle') {
        <p class="hint">Type or paste a message: it is analysed as you type.</p>
      }
      @case ('error') {
        <p class="error" role="alert">{{ error() }}</p>
      }
    }
    @for (card of cards(); track card.name) {
      <article [attr.data-status]="card.status">
        <h3>{{ card.name }}</h3>
        <p>{{ card.text }}</p>
      </article>
    }
    @if (record(); as record) {
      <p class="record">{{ record.sentiment }} · {{ record.keywords.join(', ') }}</p>
    }
  `,
})
export class AnalysisComponent {
  private readonly analysis = inject(AnalysisService);
  private readonly drafts = new Subject<string>();

  /** The latest view; `requireSync` because `analysis$` starts with `idle`. Unsubscribes when the component is destroyed. */
  readonly view = toSignal(this.analysis.analysis$, { requireSync: true });
  readonly cards = computed(() => cardsOf(this.view()));
  readonly record = computed(() => {
    const view = this.view();
    return view.status === 'done' ? view.record : undefined;
  });
  readonly error = computed(() => {
    const view = this.view();
    return view.status === 'error' ? `${view.message} (${view.code})` : '';
  });

  constructor() {
    // The component's own subscription, ended with the component (takeUntilDestroyed needs the
    // injection context, which a constructor has).
    this.drafts
      .pipe(debounceTime(600, inject(DRAFT_SCHEDULER, { optional: true }) ?? asyncScheduler), takeUntilDestroyed())
      .subscribe((text) => this.analysis.analyse(text));
  }

  /** Typing: analysed once the user pauses. */
  draft(text: string): void {
    this.drafts.next(text);
  }

  /** The button: analysed now. */
  analyse(text: string): void {
    this.analysis.analyse(text);
  }
}

function cardsOf(view: AnalysisView): NodeCard[] {
  if (view.status !== 'running' && view.status !== 'done') return [];
  return Object.entries(view.state.nodes).map(([name, node]) => ({
    name,
    status: node.status,
    text: 'textSoFar' in node ? (node.textSoFar ?? '') : '',
  }));
}
