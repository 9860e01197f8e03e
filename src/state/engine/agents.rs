//! Agents as the rules see them (RULES.md, Agents): the host each task runs on, interned once, with
//! the label slot its tasks are counted under in `marathon_agent_tasks` (honouring
//! `--agent.limit`), kept while any task in the map is on it.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::super::effects::AgentSlot;
use super::super::store::Store;

/// Index of an agent in the registry; stable while a task in the map is on it.
pub(super) type AgentIdx = u32;

/// The label of a task whose host Marathon did not give.
pub(super) const UNKNOWN_AGENT: &str = "unknown";

struct Agent {
    host: Box<str>,
    /// Tasks in the map on this agent (tracked or not).
    tasks: u32,
    slot: AgentSlot,
}

pub(super) struct Agents {
    by_host: HashMap<Box<str>, AgentIdx, RandomState>,
    entries: Vec<Option<Agent>>,
    free: Vec<AgentIdx>,
    limit: usize,
    own: usize,
    /// Agents counted under `__other__`.
    over: usize,
}

/// The host label of what Marathon sent: `unknown` when it sent none.
pub(super) fn host_label(host: Option<&str>) -> &str {
    match host {
        None | Some("" | "null" | UNKNOWN_AGENT) => UNKNOWN_AGENT,
        Some(host) => host,
    }
}

impl Agents {
    pub fn new(limit: usize) -> Self {
        Agents {
            by_host: HashMap::default(),
            entries: Vec::new(),
            free: Vec::new(),
            limit,
            own: 0,
            over: 0,
        }
    }

    fn get(&self, idx: AgentIdx) -> &Agent {
        self.entries[idx as usize]
            .as_ref()
            .expect("live agent index")
    }

    /// Whether the task on agent `idx` is on `host` (no lookup: a string comparison).
    pub fn is(&self, idx: AgentIdx, host: &str) -> bool {
        *self.get(idx).host == *host
    }

    pub fn slot(&self, idx: AgentIdx) -> AgentSlot {
        self.get(idx).slot
    }

    /// One more task on `host`: its index, registered (and labelled) with its first task.
    pub fn add_task(&mut self, host: &str, store: &Store) -> AgentIdx {
        if let Some(&idx) = self.by_host.get(host) {
            if let Some(agent) = self.entries[idx as usize].as_mut() {
                agent.tasks += 1;
            }
            return idx;
        }
        let slot = if self.own < self.limit {
            self.own += 1;
            None
        } else {
            self.over += 1;
            if self.over == 1 {
                store.add_agent(AgentSlot::OTHER, AgentSlot::OTHER_LABEL);
            }
            Some(AgentSlot::OTHER)
        };
        let idx = match self.free.pop() {
            Some(idx) => idx,
            None => {
                self.entries.push(None);
                AgentIdx::try_from(self.entries.len() - 1).expect("fewer than 2^32 agents")
            }
        };
        let slot = slot.unwrap_or(AgentSlot(idx + 1));
        if slot != AgentSlot::OTHER {
            store.add_agent(slot, host);
        }
        self.entries[idx as usize] = Some(Agent {
            host: host.into(),
            tasks: 1,
            slot,
        });
        self.by_host.insert(host.into(), idx);
        idx
    }

    /// One task fewer on agent `idx`; the agent and its series go with its last task.
    pub fn remove_task(&mut self, idx: AgentIdx, store: &Store) {
        let Some(agent) = self.entries[idx as usize].as_mut() else {
            return;
        };
        agent.tasks -= 1;
        if agent.tasks > 0 {
            return;
        }
        let agent = self.entries[idx as usize].take().expect("checked above");
        self.by_host.remove(&agent.host);
        self.free.push(idx);
        if agent.slot == AgentSlot::OTHER {
            self.over -= 1;
            if self.over == 0 {
                store.remove_agent(AgentSlot::OTHER);
            }
        } else {
            self.own -= 1;
            store.remove_agent(agent.slot);
        }
    }
}
