//! `mixed_crash`: transactions that change two key-value maps, a persistent vector, a user
//! object and counters of one pool together (the one-pool design), under an arbitrary crash
//! choice. The recovered pool must pass `Pool::check`, both maps `Map::check`, and the whole
//! state must equal the model before or after the interrupted transaction, never a mix.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;

use pobj::crash::fuzz::{Fuzzer, Outcome, Run, Structure};
use pobj::{PPtr, PVec, Persistent, Pool, PoolOptions};
use pobj_kv::{Error, Map, MapHandle};

/// The layout of the fuzzed pools.
pub const LAYOUT: &str = "fuzz-mixed";
/// Steps per transaction that run.
pub const MAX_STEPS: usize = 24;

/// An element of the vector.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Order {
    /// Its identifier.
    pub id: u32,
    /// Its quantity.
    pub qty: u32,
}

/// A user object of two cache lines.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Ledger {
    /// Its words.
    pub entries: [u64; 16],
}

/// The pool's root.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct MixedRoot {
    /// A map.
    pub stock: MapHandle,
    /// Another map.
    pub customers: MapHandle,
    /// A vector.
    pub orders: PVec<Order>,
    /// The user object.
    pub ledger: PPtr<Ledger>,
    /// Committed transactions.
    pub transactions: u64,
    /// A counter.
    pub revenue: u64,
}

/// One step of a transaction.
#[derive(Arbitrary, Clone, Debug)]
pub enum Step {
    /// Put (`Some((len, byte))`: `len % 400` bytes, out of line above about 120) or remove a
    /// key of `stock`.
    Stock(u8, Option<(u16, u8)>),
    /// The same on `customers`.
    Customer(u8, Option<(u16, u8)>),
    /// Push an order.
    Push(u32),
    /// Pop the last order.
    Pop,
    /// Replace order `i % len`.
    Set(u8, u32),
    /// Set ledger word `i % 16`.
    Ledger(u8, u64),
    /// Add to the revenue counter.
    Revenue(u32),
}

/// One transaction: its steps (the first [`MAX_STEPS`]), then commit or abort.
#[derive(Arbitrary, Clone, Debug)]
pub struct MixedTx {
    /// The steps.
    pub steps: Vec<Step>,
    /// Ends with `Err` after every step: nothing may remain.
    pub abort: bool,
}

impl MixedTx {
    fn steps(&self) -> &[Step] {
        &self.steps[..self.steps.len().min(MAX_STEPS)]
    }
}

/// A map's contents.
pub type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

/// The model of the whole pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixedModel {
    transactions: u64,
    revenue: u64,
    ledger: [u64; 16],
    stock: Contents,
    customers: Contents,
    orders: Vec<Order>,
}

fn key(prefix: &str, k: u8) -> Vec<u8> {
    format!("{prefix}-{k:03}").into_bytes()
}

fn value(len: u16, byte: u8) -> Vec<u8> {
    vec![byte; usize::from(len) % 400]
}

fn order(v: u32) -> Order {
    Order { id: v, qty: v % 7 }
}

/// The pool and its two maps (opened once the root names them).
pub struct Shop {
    pool: Arc<Pool<MixedRoot>>,
    maps: OnceLock<(Map<MixedRoot>, Map<MixedRoot>)>,
}

impl Shop {
    fn maps(&self) -> Result<&(Map<MixedRoot>, Map<MixedRoot>), String> {
        self.maps
            .get()
            .ok_or_else(|| "the root names no maps".to_string())
    }

    fn open_maps(&self) -> Result<(), String> {
        let root = self.pool.root().map_err(|e| e.to_string())?;
        let a = Map::open(&self.pool, root.stock).map_err(|e| format!("Map::open(stock): {e}"))?;
        let b = Map::open(&self.pool, root.customers)
            .map_err(|e| format!("Map::open(customers): {e}"))?;
        self.maps
            .set((a, b))
            .map_err(|_| "maps opened twice".to_string())
    }
}

fn contents(map: &Map<MixedRoot>, name: &str) -> Result<Contents, String> {
    let report = map.check();
    if !report.is_ok() {
        return Err(format!("Map::check({name}): {report}"));
    }
    let mut out = Contents::new();
    map.get_all(|k, v| {
        out.insert(k.to_vec(), v.to_vec());
        true
    })
    .map_err(|e| format!("scan of {name}: {e}"))?;
    Ok(out)
}

fn read(shop: &Shop) -> Result<MixedModel, String> {
    let (stock, customers) = shop.maps()?;
    let pool = &*shop.pool;
    let root = pool.root().map_err(|e| e.to_string())?;
    Ok(MixedModel {
        transactions: root.transactions,
        revenue: root.revenue,
        ledger: pool.get(root.ledger).map_err(|e| e.to_string())?.entries,
        stock: contents(stock, "stock")?,
        customers: contents(customers, "customers")?,
        orders: root.orders.to_vec(pool).map_err(|e| e.to_string())?,
    })
}

/// The description of the mixed pool for crash fuzzing.
#[derive(Clone, Copy, Debug, Default)]
pub struct MixedFuzz;

impl Structure for MixedFuzz {
    type Root = MixedRoot;
    type Store = Shop;
    type Op = MixedTx;
    type Model = MixedModel;

    fn layout(&self) -> &str {
        LAYOUT
    }

    fn pool_options(&self) -> PoolOptions {
        (4u64 << 20).into()
    }

    fn open(&self, pool: Pool<MixedRoot>) -> Result<Shop, String> {
        let shop = Shop {
            pool: Arc::new(pool),
            maps: OnceLock::new(),
        };
        if !shop.pool.root().map_err(|e| e.to_string())?.stock.is_null() {
            shop.open_maps()?;
        }
        Ok(shop)
    }

    fn setup(&self, shop: &Shop) -> Result<(), String> {
        shop.pool
            .transaction(|tx| {
                let stock = MapHandle::create(tx)?;
                let customers = MapHandle::create(tx)?;
                let orders = PVec::<Order>::new(tx)?;
                let ledger = tx.alloc(Ledger { entries: [0; 16] })?;
                let r = tx.root_mut()?;
                r.stock = stock;
                r.customers = customers;
                r.orders = orders;
                r.ledger = ledger;
                Ok::<_, Error>(())
            })
            .map_err(|e| e.to_string())?;
        shop.open_maps()
    }

    fn model(&self) -> MixedModel {
        MixedModel {
            transactions: 0,
            revenue: 0,
            ledger: [0; 16],
            stock: Contents::new(),
            customers: Contents::new(),
            orders: Vec::new(),
        }
    }

    fn apply(&self, shop: &Shop, t: &MixedTx) -> Result<Outcome, String> {
        let (stock, customers) = shop.maps()?;
        let r = shop.pool.transaction(|tx| {
            let root = *tx.root();
            tx.root_mut()?.transactions += 1;
            for step in t.steps() {
                match *step {
                    Step::Stock(k, Some((len, b))) => {
                        stock.tx(tx)?.put(key("sku", k), value(len, b))?;
                    }
                    Step::Stock(k, None) => {
                        stock.tx(tx)?.remove(key("sku", k))?;
                    }
                    Step::Customer(k, Some((len, b))) => {
                        customers.tx(tx)?.put(key("cust", k), value(len, b))?;
                    }
                    Step::Customer(k, None) => {
                        customers.tx(tx)?.remove(key("cust", k))?;
                    }
                    Step::Push(v) => root.orders.push(tx, order(v))?,
                    Step::Pop => {
                        root.orders.pop(tx)?;
                    }
                    Step::Set(i, v) => {
                        let len = root.orders.len(&*tx)?;
                        if len > 0 {
                            root.orders.set(tx, usize::from(i) % len, order(v))?;
                        }
                    }
                    Step::Ledger(i, v) => {
                        tx.get_mut(root.ledger)?.entries[usize::from(i) % 16] = v;
                    }
                    Step::Revenue(v) => tx.root_mut()?.revenue += u64::from(v),
                }
            }
            if t.abort {
                return Err(Error::Pool(pobj::Error::TxAborted));
            }
            Ok(())
        });
        match r {
            Ok(()) => Ok(Outcome::Applied),
            Err(Error::Pool(pobj::Error::TxAborted)) if t.abort => Ok(Outcome::Refused),
            Err(Error::OutOfSpace { .. }) => Ok(Outcome::Refused),
            Err(e) => Err(e.to_string()),
        }
    }

    fn apply_model(&self, m: &mut MixedModel, t: &MixedTx) {
        m.transactions += 1;
        for step in t.steps() {
            match *step {
                Step::Stock(k, Some((len, b))) => {
                    m.stock.insert(key("sku", k), value(len, b));
                }
                Step::Stock(k, None) => {
                    m.stock.remove(&key("sku", k));
                }
                Step::Customer(k, Some((len, b))) => {
                    m.customers.insert(key("cust", k), value(len, b));
                }
                Step::Customer(k, None) => {
                    m.customers.remove(&key("cust", k));
                }
                Step::Push(v) => m.orders.push(order(v)),
                Step::Pop => {
                    m.orders.pop();
                }
                Step::Set(i, v) => {
                    let len = m.orders.len();
                    if len > 0 {
                        m.orders[usize::from(i) % len] = order(v);
                    }
                }
                Step::Ledger(i, v) => m.ledger[usize::from(i) % 16] = v,
                Step::Revenue(v) => m.revenue += u64::from(v),
            }
        }
    }

    fn check(&self, shop: &Shop, before: &MixedModel, after: &MixedModel) -> Result<(), String> {
        let got = read(shop)?;
        if &got == before || &got == after {
            Ok(())
        } else {
            Err(format!(
                "the recovered pool is neither the state before nor after the interrupted \
                 transaction (transactions: {} recovered, {} before, {} after)",
                got.transactions, before.transactions, after.transactions
            ))
        }
    }
}

/// The `mixed_crash` fuzzer: at most 8 transactions per input.
pub fn fuzzer() -> Fuzzer<MixedFuzz> {
    Fuzzer::new(MixedFuzz).max_ops(8)
}

/// The `mixed_crash` target: what the run covered, or the failure's report if the recovered pool is wrong.
pub fn mixed_crash(data: &[u8]) -> Result<Run, String> {
    fuzzer().run(data).map_err(|f| f.to_string())
}
