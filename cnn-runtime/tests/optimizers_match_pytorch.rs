//! Replays the optimiser steps recorded from PyTorch in `fixtures/optimizers.txt` (written by
//! `bench/pytorch_fixtures.py`) and checks that every parameter after every step is within 1e-6 of
//! PyTorch's (relative to its magnitude above 1).

use cnn_runtime::optim::{Adam, Optimizer, Sgd};

const FIXTURE: &str = include_str!("fixtures/optimizers.txt");
const TOLERANCE: f64 = 1e-6;

/// One recorded run: hyperparameters, initial tensors, then per step the gradients and expected
/// parameters of every slot.
struct Case {
    name: String,
    opt: Vec<(String, String)>,
    init: Vec<Vec<f32>>,
    steps: Vec<Vec<(Vec<f32>, Vec<f32>)>>,
}

impl Case {
    fn get(&self, key: &str) -> f32 {
        let (_, value) = self
            .opt
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("case {}: no hyperparameter {key}", self.name));
        value.parse().unwrap_or_else(|e| panic!("case {}: {key}={value}: {e}", self.name))
    }

    fn optimizer(&self) -> Box<dyn Optimizer> {
        match self.opt[0].0.as_str() {
            "sgd" => {
                let mut sgd = Sgd::new(self.get("lr"))
                    .with_momentum(self.get("momentum"))
                    .with_dampening(self.get("dampening"))
                    .with_weight_decay(self.get("weight_decay"));
                if self.get("nesterov") != 0.0 {
                    sgd = sgd.nesterov();
                }
                Box::new(sgd)
            }
            "adam" => {
                let mut adam =
                    if self.get("decoupled") != 0.0 { Adam::adamw(self.get("lr")) } else { Adam::new(self.get("lr")) };
                adam = adam
                    .with_betas(self.get("beta1"), self.get("beta2"))
                    .with_eps(self.get("eps"))
                    .with_weight_decay(self.get("weight_decay"));
                Box::new(adam)
            }
            other => panic!("case {}: unknown optimiser {other}", self.name),
        }
    }
}

fn floats(words: std::str::SplitWhitespace<'_>) -> Vec<f32> {
    words.map(|w| w.parse().unwrap_or_else(|e| panic!("bad number {w}: {e}"))).collect()
}

fn parse(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut case: Option<Case> = None;
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let tag = words.next().unwrap();
        if tag == "case" {
            assert!(case.is_none(), "line {n}: case inside a case");
            let name = words.next().expect("case name").to_string();
            case = Some(Case { name, opt: Vec::new(), init: Vec::new(), steps: Vec::new() });
            continue;
        }
        let c = case.as_mut().unwrap_or_else(|| panic!("line {n}: {tag} outside a case"));
        let mut slot = || -> usize { words.next().expect("slot").parse().expect("slot number") };
        match tag {
            "opt" => {
                let kind = words.next().expect("optimiser kind");
                c.opt.push((kind.to_string(), String::new()));
                for kv in words {
                    let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("line {n}: {kv} is not KEY=VALUE"));
                    c.opt.push((k.to_string(), v.to_string()));
                }
            }
            "init" => {
                assert_eq!(slot(), c.init.len(), "line {n}: slots out of order");
                c.init.push(floats(words));
            }
            "step" => c.steps.push(Vec::new()),
            "grad" => {
                let step = c.steps.last_mut().unwrap_or_else(|| panic!("line {n}: grad before step"));
                assert_eq!(slot(), step.len(), "line {n}: slots out of order");
                step.push((floats(words), Vec::new()));
            }
            "want" => {
                let s = slot();
                let entry = c.steps.last_mut().and_then(|step| step.get_mut(s));
                let entry = entry.unwrap_or_else(|| panic!("line {n}: want without its grad"));
                entry.1 = floats(words);
            }
            "end" => cases.push(case.take().unwrap()),
            other => panic!("line {n}: unknown record {other}"),
        }
    }
    assert!(case.is_none(), "last case has no end");
    cases
}

#[test]
fn optimizers_match_pytorch() {
    let cases = parse(FIXTURE);
    assert!(cases.len() >= 9, "only {} cases in the fixture", cases.len());
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut identical = 0;
    let mut worst = 0.0f64;
    for case in &cases {
        let mut opt = case.optimizer();
        let mut params = case.init.clone();
        assert!(!case.steps.is_empty(), "case {}: no steps", case.name);
        for (t, step) in case.steps.iter().enumerate() {
            assert_eq!(step.len(), params.len(), "case {}: step {} has the wrong number of slots", case.name, t + 1);
            opt.begin_step();
            for (slot, (p, (grad, want))) in params.iter_mut().zip(step).enumerate() {
                assert_eq!((grad.len(), want.len()), (p.len(), p.len()), "case {}: slot {slot} sizes", case.name);
                opt.update(slot, p, grad);
                for (i, (&ours, &torch)) in p.iter().zip(want).enumerate() {
                    let err = (ours as f64 - torch as f64).abs() / (torch as f64).abs().max(1.0);
                    worst = worst.max(err);
                    compared += 1;
                    identical += usize::from(ours == torch);
                    if err > TOLERANCE {
                        failures.push(format!(
                            "{} step {} slot {slot}[{i}]: ours {ours:e}, torch {torch:e} (error {err:e})",
                            case.name,
                            t + 1
                        ));
                    }
                }
            }
        }
    }
    eprintln!("{compared} values from {} cases: {identical} identical, largest error {worst:e}", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {compared} values differ from PyTorch:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
