import { checkConf, defaultConf, type DagParams } from './conf-check.js';
import { h, show } from './dom.js';
import { DeploymentApi, segment } from './http.js';
import { errorView } from './refusal-view.js';

interface Dag { dag_id: string; is_paused: boolean; description?: string | null }
interface DagRun { dag_run_id: string; state: string; start_date?: string | null; end_date?: string | null; conf?: unknown }
interface TaskInstance { task_id: string; state: string | null; try_number: number; map_index: number }
interface Variable { key: string; value: string; description?: string | null }
interface LogEvent { event?: string; timestamp?: string; level?: string }

const RUN_FINAL = new Set(['success', 'failed']);
const TASK_FINAL = new Set(['success', 'failed', 'skipped', 'upstream_failed', 'removed']);
/** How often a run that has not ended is read again (its state, its tasks'). */
const POLL_MS = 2000;

const when = (iso?: string | null) => (iso ? new Date(iso).toLocaleString() : '');

/**
 * The console of one deployment: its DAGs (the proxy's filtered list), one DAG's trigger form, recent runs
 * followed live, their task instances and logs, and the variables the person may read and edit. Every call goes
 * through the proxy, so what is shown and refused is what the policy says for this person.
 */
export class DeploymentView {
  readonly element: HTMLElement;
  private readonly dagList = h('ul', { class: 'dag-list' });
  private readonly panel = h('section', { class: 'dag-panel', 'aria-labelledby': 'dag-title' }, h('h2', { id: 'dag-title' }, 'No DAG selected'), h('p', {}, 'Choose a DAG to trigger it and follow its runs.'));
  private readonly variables = h('div');
  private readonly announce = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  /** Changes whenever another DAG or run is opened: a poll of the previous one then stops. */
  private generation = 0;
  private readonly seenStates = new Map<string, string>();

  constructor(private readonly api: DeploymentApi) {
    this.element = h(
      'div',
      { class: 'deployment' },
      this.announce,
      h('div', { class: 'columns' }, h('section', { class: 'dags', 'aria-labelledby': 'dags-title' }, h('h2', { id: 'dags-title' }, 'DAGs'), this.dagList), this.panel),
      h('section', { class: 'variables', 'aria-labelledby': 'variables-title' }, h('h2', { id: 'variables-title' }, 'Variables'), this.variables),
    );
  }

  async start(): Promise<void> {
    await Promise.all([this.loadDags(), this.loadVariables()]);
  }

  private async loadDags(): Promise<void> {
    try {
      const { dags } = await this.api.get<{ dags: Dag[] }>('/dags', { limit: 100, order_by: 'dag_id' });
      if (dags.length === 0) return show(this.dagList, h('li', {}, 'You may see no DAG of this deployment.'));
      show(this.dagList, ...dags.map((dag) => h('li', {}, h('button', { type: 'button', class: 'dag', 'data-dag-id': dag.dag_id, onclick: () => void this.openDag(dag.dag_id) }, dag.dag_id), dag.is_paused ? h('span', { class: 'badge' }, 'paused') : null)));
    } catch (err) {
      show(this.dagList, h('li', {}, errorView(err, 'Listing the DAGs')));
    }
  }

  private async openDag(dagId: string): Promise<void> {
    const generation = ++this.generation;
    for (const b of this.dagList.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.dagId === dagId));
    const title = h('h2', { id: 'dag-title', tabindex: -1 }, dagId);
    show(this.panel, title, h('p', {}, 'Loading...'));
    title.focus();
    let dag: Dag & { params?: DagParams | null };
    try {
      dag = await this.api.get('/dags' + segment(dagId) + '/details');
    } catch (err) {
      return show(this.panel, title, errorView(err, `Reading ${dagId}`));
    }
    if (generation !== this.generation) return;
    const params = dag.params ?? {};
    const runs = h('div', { class: 'runs' });
    const tasks = h('div', { class: 'tasks' });
    const follow = this.runsFollower(dagId, runs, tasks, generation);
    show(
      this.panel,
      title,
      dag.description ? h('p', {}, dag.description) : null,
      this.pauseControl(dag),
      this.triggerForm(dagId, params, follow),
      h('h3', {}, 'Recent runs'),
      runs,
      tasks,
    );
    await follow();
  }

  private pauseControl(dag: Dag): HTMLElement {
    const message = h('div');
    let paused = dag.is_paused;
    const button = h('button', { type: 'button' }, paused ? 'Unpause' : 'Pause');
    button.addEventListener('click', async () => {
      show(message);
      try {
        const updated = await this.api.send<Dag>('PATCH', '/dags' + segment(dag.dag_id), { is_paused: !paused });
        paused = updated.is_paused;
        button.textContent = paused ? 'Unpause' : 'Pause';
        show(message, h('p', { role: 'status' }, paused ? `${dag.dag_id} is paused.` : `${dag.dag_id} is unpaused.`));
      } catch (err) {
        show(message, errorView(err, paused ? 'Unpausing' : 'Pausing'));
      }
    });
    return h('div', { class: 'pause' }, h('p', {}, `State: ${paused ? 'paused' : 'active'} `, button), message);
  }

  private triggerForm(dagId: string, params: DagParams, follow: (runId: string) => Promise<void>): HTMLElement {
    const id = `conf-${dagId}`;
    const conf = h('textarea', { id, name: 'conf', rows: 5, spellcheck: 'false', 'aria-describedby': `${id}-help` });
    conf.value = JSON.stringify(defaultConf(params), null, 2);
    const message = h('div', { class: 'trigger-result' });
    const names = Object.entries(params);
    const help = h(
      'div',
      { id: `${id}-help`, class: 'help' },
      names.length === 0
        ? h('p', {}, 'This DAG declares no params: any JSON object is passed on as the run\'s conf.')
        : h('ul', {}, ...names.map(([name, p]) => h('li', {}, h('code', {}, name), p.schema?.type ? ` (${[p.schema.type].flat().join(' or ')})` : '', p.description ? `: ${p.description}` : ''))),
    );
    const form = h(
      'form',
      { class: 'trigger', novalidate: true },
      h('h3', {}, 'Trigger a run'),
      h('label', { for: id }, 'Run configuration (JSON)'),
      conf,
      help,
      h('button', { type: 'submit' }, 'Trigger run'),
      message,
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const checked = checkConf(conf.value, params);
      if (!checked.conf) {
        conf.setAttribute('aria-invalid', 'true');
        return show(message, h('div', { class: 'problem', role: 'alert' }, h('p', { class: 'problem-title' }, 'The configuration does not fit the DAG\'s params'), h('ul', {}, ...checked.problems.map((p) => h('li', {}, p)))));
      }
      conf.removeAttribute('aria-invalid');
      show(message, h('p', { role: 'status' }, 'Triggering...'));
      try {
        const run = await this.api.send<DagRun>('POST', '/dags' + segment(dagId) + '/dagRuns', { logical_date: null, conf: checked.conf });
        show(message, h('p', { role: 'status' }, `Run ${run.dag_run_id} created (${run.state}).`));
        await follow(run.dag_run_id);
      } catch (err) {
        show(message, errorView(err, 'Triggering'));
      }
    });
    return form;
  }

  /**
   * Follows the recent runs of `dagId` (and the open run's tasks): read now, and again every POLL_MS while any has
   * not ended, until another DAG is opened. `follow(runId)` opens a run (after a trigger, or its Tasks button).
   */
  private runsFollower(dagId: string, runsBox: HTMLElement, tasksBox: HTMLElement, generation: number): (runId?: string) => Promise<void> {
    let selected: string | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = async (): Promise<void> => {
      clearTimeout(timer);
      if (generation !== this.generation) return;
      let live = false;
      try {
        const { dag_runs } = await this.api.get<{ dag_runs: DagRun[] }>('/dags' + segment(dagId) + '/dagRuns', { limit: 10, order_by: '-id' });
        live = dag_runs.some((r) => !RUN_FINAL.has(r.state));
        this.noteChanges(dag_runs);
        show(runsBox, this.runsTable(dag_runs, selected, (runId) => void follow(runId)));
      } catch (err) {
        show(runsBox, errorView(err, 'Reading the runs'));
      }
      if (selected) live = (await this.loadTasks(dagId, selected, tasksBox)) || live;
      if (live && generation === this.generation) timer = setTimeout(() => void refresh(), POLL_MS);
    };
    const follow = (runId?: string) => {
      if (runId !== undefined) selected = runId;
      return refresh();
    };
    return follow;
  }

  private noteChanges(runs: DagRun[]): void {
    for (const run of runs) {
      const before = this.seenStates.get(run.dag_run_id);
      if (before !== undefined && before !== run.state) this.announce.textContent = `Run ${run.dag_run_id}: ${run.state}`;
      this.seenStates.set(run.dag_run_id, run.state);
    }
  }

  private runsTable(runs: DagRun[], selected: string | undefined, open: (runId: string) => void): HTMLElement {
    if (runs.length === 0) return h('p', {}, 'No run yet.');
    return h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Run'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Started'), h('th', { scope: 'col' }, 'Ended'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h(
        'tbody',
        {},
        ...runs.map((run) =>
          h(
            'tr',
            { 'data-run-id': run.dag_run_id, class: run.dag_run_id === selected ? 'selected' : undefined },
            h('td', {}, h('code', {}, run.dag_run_id)),
            h('td', { class: `state state-${run.state}`, 'data-state': run.state }, run.state),
            h('td', {}, when(run.start_date)),
            h('td', {}, when(run.end_date)),
            h('td', {}, h('button', { type: 'button', 'aria-label': `Tasks of ${run.dag_run_id}`, onclick: () => open(run.dag_run_id) }, 'Tasks')),
          ),
        ),
      ),
    );
  }

  /** Shows the task instances of a run; true while any of them has not ended. */
  private async loadTasks(dagId: string, runId: string, box: HTMLElement): Promise<boolean> {
    const path = '/dags' + segment(dagId) + '/dagRuns' + segment(runId) + '/taskInstances';
    let instances: TaskInstance[];
    try {
      instances = (await this.api.get<{ task_instances: TaskInstance[] }>(path)).task_instances;
    } catch (err) {
      show(box, h('h3', {}, `Tasks of ${runId}`), errorView(err, 'Reading the tasks'));
      return false;
    }
    const log = box.querySelector<HTMLElement>('.log') ?? h('div', { class: 'log' });
    show(
      box,
      h('h3', {}, `Tasks of ${runId}`),
      instances.length === 0
        ? h('p', {}, 'No task instance yet.')
        : h(
            'table',
            {},
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Task'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Try'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
            h(
              'tbody',
              {},
              ...instances.map((ti) =>
                h(
                  'tr',
                  { 'data-task-id': ti.task_id },
                  h('td', {}, ti.task_id, ti.map_index >= 0 ? ` [${ti.map_index}]` : ''),
                  h('td', { class: `state state-${ti.state ?? 'none'}`, 'data-state': ti.state ?? 'none' }, ti.state ?? 'no state yet'),
                  h('td', {}, ti.try_number),
                  h('td', {}, ti.try_number > 0 ? h('button', { type: 'button', 'aria-label': `Show the log of ${ti.task_id}`, onclick: () => void this.loadLog(path + segment(ti.task_id) + '/logs/' + ti.try_number, ti, log) }, 'Log') : null),
                ),
              ),
            ),
          ),
      log,
    );
    return instances.length === 0 || instances.some((ti) => !TASK_FINAL.has(ti.state ?? ''));
  }

  private async loadLog(path: string, ti: TaskInstance, box: HTMLElement): Promise<void> {
    const title = h('h3', { tabindex: -1 }, `Log of ${ti.task_id} (try ${ti.try_number})`);
    show(box, title, h('p', {}, 'Loading...'));
    try {
      const { content } = await this.api.get<{ content: Array<LogEvent | string> }>(path);
      const lines = content.map((e) => (typeof e === 'string' ? e : [e.timestamp, e.level, e.event].filter(Boolean).join(' ')));
      show(box, title, h('pre', { class: 'log-text', tabindex: 0, 'aria-label': `Log of ${ti.task_id}` }, lines.join('\n')));
    } catch (err) {
      show(box, title, errorView(err, 'Reading the log'));
    }
    title.focus();
  }

  private async loadVariables(): Promise<void> {
    let variables: Variable[];
    try {
      variables = (await this.api.get<{ variables: Variable[] }>('/variables', { limit: 100, order_by: 'key' })).variables;
    } catch (err) {
      return show(this.variables, errorView(err, 'Listing the variables'));
    }
    if (variables.length === 0) return show(this.variables, h('p', {}, 'You may see no variable of this deployment.'));
    show(this.variables, h('ul', { class: 'variable-list' }, ...variables.map((v) => h('li', {}, this.variableForm(v)))));
  }

  private variableForm(variable: Variable): HTMLElement {
    const id = `variable-${variable.key}`;
    const input = h('input', { id, name: 'value', type: 'text', autocomplete: 'off' });
    input.value = variable.value;
    const message = h('div', { class: 'variable-result' });
    const form = h('form', { class: 'variable', 'data-key': variable.key }, h('label', { for: id }, variable.key), input, h('button', { type: 'submit', 'aria-label': `Save ${variable.key}` }, 'Save'), message);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      show(message, h('p', { role: 'status' }, 'Saving...'));
      try {
        const saved = await this.api.send<Variable>('PATCH', '/variables' + segment(variable.key), { key: variable.key, value: input.value, description: variable.description ?? null });
        input.value = saved.value;
        show(message, h('p', { role: 'status' }, `Saved: ${variable.key} is now "${saved.value}".`));
      } catch (err) {
        show(message, errorView(err, `Saving ${variable.key}`));
      }
    });
    return form;
  }
}
