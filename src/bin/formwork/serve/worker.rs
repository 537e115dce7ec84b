//! Slots: threads that each own a copy of the model and run one request at
//! a time, fed from one queue.
//!
//! A model's forward pass takes `&mut self`, so each of `--parallel` slots
//! holds its own [`Generator`]; the copies share one [`TokenEnv`] (the
//! vocabulary, its trie and the lexeme cache), so a grammar compiled once
//! serves every slot. The slots are OS threads, not async tasks: a
//! generation is seconds of CPU work that must not stall the HTTP runtime.
//!
//! Admission is counted, not queued blindly: a [`Ticket`] is taken before
//! any work (compiling the request's grammar included) and given back when
//! the request's generation ends, so at most `parallel + queue` requests are
//! in the server and the rest get 429 at once. Every event of a job goes
//! back on its own channel; when the receiving side is gone (the client
//! disconnected) the job's cancel flag is set and the slot stops the
//! generation between two forward passes.

use super::metrics::Metrics;
use formwork::generate::{GenerateOptions, Generation, Generator, Select};
use formwork::model::GgufModel;
use formwork::{CompiledGrammar, ModelError, TokenEnv};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// One request's generation.
pub struct Job {
    pub prompt: String,
    pub grammar: Option<Arc<CompiledGrammar>>,
    pub opts: GenerateOptions,
    pub n: usize,
    /// Hand text out as it is generated (else only [`Event::Done`]s).
    pub stream: bool,
    pub events: UnboundedSender<Event>,
    /// The job's place in the server, given back just before its last
    /// event, so that a client's next request, sent as soon as it has its
    /// answer, finds the place free.
    pub ticket: Option<Ticket>,
}

/// What a slot reports about a job.
pub enum Event {
    /// More text of choice `index` (streaming only).
    Text { index: usize, text: String },
    /// Choice `index` is finished.
    Done {
        index: usize,
        generation: Box<Generation>,
    },
    /// The generation failed; no more events follow.
    Failed(ModelError),
}

/// A place in the server: running or waiting. Dropping it frees the place.
pub struct Ticket {
    admission: Arc<Admission>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts the requests inside the server against its capacity.
pub struct Admission {
    inside: AtomicUsize,
    running: AtomicUsize,
    capacity: usize,
}

impl Admission {
    /// Requests waiting for a slot.
    pub fn queued(&self) -> usize {
        self.inside
            .load(Ordering::Acquire)
            .saturating_sub(self.running.load(Ordering::Acquire))
    }

    /// Requests being generated.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }
}

/// The slots and their queue.
pub struct Pool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    admission: Arc<Admission>,
    env: Arc<TokenEnv>,
    context_length: usize,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Pool {
    /// Starts `generators.len()` slots. The generators must share one
    /// environment (see [`GeneratorBuilder::env`](formwork::generate::GeneratorBuilder::env)).
    pub fn start(
        generators: Vec<Generator<GgufModel>>,
        queue: usize,
        metrics: Arc<Metrics>,
    ) -> Pool {
        let env = generators[0].env().clone();
        let context_length = {
            use formwork::model::LanguageModel;
            generators[0].model().context_length()
        };
        let admission = Arc::new(Admission {
            inside: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            capacity: generators.len() + queue,
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = generators
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                let rx = rx.clone();
                let admission = admission.clone();
                let metrics = metrics.clone();
                std::thread::Builder::new()
                    .name(format!("formwork-slot-{i}"))
                    .spawn(move || slot(g, &rx, &admission, &metrics))
                    .expect("spawning a slot thread")
            })
            .collect();
        Pool {
            jobs: Mutex::new(Some(tx)),
            admission,
            env,
            context_length,
            threads: Mutex::new(threads),
        }
    }

    pub fn env(&self) -> &Arc<TokenEnv> {
        &self.env
    }

    /// The longest prompt plus output the model takes.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// A place in the server, or `None` when it is full.
    pub fn admit(&self) -> Option<Ticket> {
        let a = &self.admission;
        let mut now = a.inside.load(Ordering::Acquire);
        loop {
            if now >= a.capacity {
                return None;
            }
            match a
                .inside
                .compare_exchange(now, now + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Some(Ticket {
                        admission: a.clone(),
                    })
                }
                Err(seen) => now = seen,
            }
        }
    }

    /// Queues a job; `false` once the pool is shutting down.
    pub fn submit(&self, job: Job) -> bool {
        match self.jobs.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        }
    }

    /// Lets the slots finish their jobs and waits for them.
    pub fn shut_down(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// A slot's loop: take a job, run it, report, repeat until the queue closes.
fn slot(
    mut g: Generator<GgufModel>,
    rx: &Mutex<mpsc::Receiver<Job>>,
    admission: &Admission,
    metrics: &Metrics,
) {
    loop {
        let mut job = {
            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        admission.running.fetch_add(1, Ordering::AcqRel);
        let t = Instant::now();
        run(&mut g, &mut job);
        metrics.generation_seconds(t.elapsed().as_secs_f64());
        admission.running.fetch_sub(1, Ordering::AcqRel);
        drop(job);
    }
}

/// Runs one job, sending its events; a closed channel cancels it.
fn run(g: &mut Generator<GgufModel>, job: &mut Job) {
    let cancel = job
        .opts
        .cancel
        .clone()
        .unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
    if cancel.load(Ordering::Relaxed) || job.events.is_closed() {
        return;
    }
    let send = |e: Event| {
        if job.events.send(e).is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    if !job.stream && job.n > 1 {
        // Samples decoded together (the prompt fed once).
        match g.generate_n(
            &job.prompt,
            job.grammar.clone(),
            &job.opts,
            job.n,
            Select::Best,
        ) {
            Ok((outs, _)) => {
                for (index, generation) in outs.into_iter().enumerate() {
                    send(Event::Done {
                        index,
                        generation: Box::new(generation),
                    });
                }
            }
            Err(e) => send(Event::Failed(e)),
        }
        return;
    }
    for index in 0..job.n {
        let mut opts = job.opts.clone();
        opts.sampler.seed = job.opts.sampler.seed.wrapping_add(index as u64);
        let result = if job.stream {
            g.generate_streaming(&job.prompt, job.grammar.clone(), &opts, &mut |text| {
                send(Event::Text {
                    index,
                    text: text.to_string(),
                })
            })
        } else {
            g.generate(&job.prompt, job.grammar.clone(), &opts)
        };
        if index + 1 == job.n || result.is_err() {
            job.ticket.take();
        }
        match result {
            Ok(generation) => send(Event::Done {
                index,
                generation: Box::new(generation),
            }),
            Err(e) => {
                send(Event::Failed(e));
                return;
            }
        }
    }
}
