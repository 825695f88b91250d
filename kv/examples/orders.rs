//! One pool, many structures: orders kept in a `PVec<Order>`, indexed by customer in one KV map
//! and by date in another, with the next order id in the root. Each new order goes into all
//! three in one transaction, so the vector and its two indexes never disagree: one order is
//! refused after it was written, and its transaction aborts with nothing changed. Then
//! everything is dropped, the pool is reopened, and the orders of one customer and those of a
//! date range are found through the maps and read from the vector.
//!
//! `cargo run --release -p pobj-kv --example orders [POOL]` (default:
//! /dev/shm/pobj-orders.pool, or the temporary directory where /dev/shm does not exist). The
//! pool is kept: each run adds the same orders again, under new ids. Remove the file to start
//! over.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use pobj::{PVec, Persistent, Pool};
use pobj_kv::{Map, MapHandle};

const LAYOUT: &str = "orders";

/// An order. `date` is `YYYYMMDD`, `amount` in cents.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Order {
    id: u64,
    customer: u64,
    date: u64,
    amount: u64,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    orders: PVec<Order>,
    /// `customer` (big-endian) ++ `id` (big-endian) → the order's index in `orders`.
    by_customer: MapHandle,
    /// `date` (big-endian) ++ `id` (big-endian) → the order's index in `orders`.
    by_date: MapHandle,
    next_id: u64,
}

/// A date as `YYYYMMDD`.
const fn ymd(y: u64, m: u64, d: u64) -> u64 {
    y * 10_000 + m * 100 + d
}

/// An amount in cents.
const fn cents(units: u64, cents: u64) -> u64 {
    units * 100 + cents
}

/// Orders above this amount are refused.
const LIMIT: u64 = cents(10_000, 0);

fn key(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&b.to_be_bytes());
    k
}

fn index(v: &[u8]) -> Result<usize, Box<dyn Error>> {
    Ok(usize::try_from(u64::from_le_bytes(v.try_into()?))?)
}

fn date(d: u64) -> String {
    format!("{:04}-{:02}-{:02}", d / 10000, d / 100 % 100, d % 100)
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

struct Shop {
    pool: Arc<Pool<Root>>,
    orders: PVec<Order>,
    by_customer: Map<Root>,
    by_date: Map<Root>,
}

impl Shop {
    /// Opens the pool at `path`, creating it and its three structures if needed (then
    /// `created` is true).
    fn open(path: &PathBuf) -> Result<(Shop, bool), Box<dyn Error>> {
        let pool = Arc::new(Pool::<Root>::open_or_create(path, LAYOUT, 16 << 20)?);
        let created = pool.root()?.orders.is_null();
        if created {
            pool.transaction(|tx| {
                let orders = PVec::new(tx)?;
                let by_customer = MapHandle::create(tx)?;
                let by_date = MapHandle::create(tx)?;
                *tx.root_mut()? = Root {
                    orders,
                    by_customer,
                    by_date,
                    next_id: 1,
                };
                Ok::<_, Box<dyn Error>>(())
            })?;
        }
        let root = pool.root()?;
        let shop = Shop {
            orders: root.orders,
            by_customer: Map::open(&pool, root.by_customer)?,
            by_date: Map::open(&pool, root.by_date)?,
            pool,
        };
        Ok((shop, created))
    }

    /// Adds an order to the vector and both maps in one transaction; returns it. Refused (and
    /// nothing changed) if its amount is over `LIMIT`, a check made after the writes.
    fn add(&self, customer: u64, day: u64, amount: u64) -> Result<Order, Box<dyn Error>> {
        self.pool.transaction(|tx| {
            let id = tx.root().next_id;
            let at = self.orders.len(&*tx)? as u64;
            let order = Order {
                id,
                customer,
                date: day,
                amount,
            };
            self.orders.push(tx, order)?;
            self.by_customer
                .tx(tx)?
                .put(key(customer, id), at.to_le_bytes())?;
            self.by_date.tx(tx)?.put(key(day, id), at.to_le_bytes())?;
            tx.root_mut()?.next_id = id + 1;
            if amount > LIMIT {
                // Inside the transaction the order is everywhere; the error undoes all of it.
                let seen = self.by_customer.tx(tx)?.exists(key(customer, id))?
                    && self.by_date.tx(tx)?.exists(key(day, id))?;
                return Err(format!(
                    "order {id} ({}) is over the limit of {}; inside its transaction it was \
                     element {at} of the vector{}",
                    money(amount),
                    money(LIMIT),
                    if seen { " and in both maps" } else { "" }
                )
                .into());
            }
            Ok(order)
        })
    }

    /// The orders whose index keys in `map` are in `lo..hi`, read from the vector.
    fn lookup(
        &self,
        map: &Map<Root>,
        lo: [u8; 16],
        hi: [u8; 16],
    ) -> Result<Vec<Order>, Box<dyn Error>> {
        let mut out = Vec::new();
        for e in map.range(lo..hi) {
            let (_, v) = e?;
            out.push(self.orders.get(&*self.pool, index(&v)?)?);
        }
        Ok(out)
    }

    fn counts(&self) -> Result<String, Box<dyn Error>> {
        Ok(format!(
            "{} orders, {} + {} index entries, next id {}",
            self.orders.len(&*self.pool)?,
            self.by_customer.count_all()?,
            self.by_date.count_all()?,
            self.pool.root()?.next_id
        ))
    }
}

fn print(o: &Order) {
    println!(
        "  order {:>3}  customer {}  {}  {:>9}",
        o.id,
        o.customer,
        date(o.date),
        money(o.amount)
    );
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).map_or_else(
        || {
            let shm = std::path::Path::new("/dev/shm");
            let dir = if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            };
            dir.join("pobj-orders.pool")
        },
        PathBuf::from,
    );

    {
        let (shop, created) = Shop::open(&path)?;
        if created {
            println!("pool {}: created", path.display());
        } else {
            println!(
                "pool {}: opened; from earlier runs: {}",
                path.display(),
                shop.counts()?
            );
        }
        let sample = [
            (7, ymd(2024, 3, 2), cents(120, 50)),
            (3, ymd(2024, 3, 5), cents(15, 0)),
            (7, ymd(2024, 3, 9), cents(2_310, 0)),
            (5, ymd(2024, 3, 11), cents(89, 99)),
            (3, ymd(2024, 3, 18), cents(430, 0)),
            (7, ymd(2024, 3, 27), cents(64, 10)),
        ];
        for (customer, day, amount) in sample {
            let o = shop.add(customer, day, amount)?;
            println!(
                "added order {} (customer {}, {}, {}) to the vector and both maps, one transaction",
                o.id,
                o.customer,
                date(o.date),
                money(o.amount)
            );
        }
        let before = shop.counts()?;
        match shop.add(5, ymd(2024, 3, 20), cents(25_000, 0)) {
            Err(e) => println!("refused: {e}"),
            Ok(o) => return Err(format!("order {} should have been refused", o.id).into()),
        }
        let after = shop.counts()?;
        println!("before the refused order: {before}\nafter it:                 {after}");
        if before != after {
            return Err("the aborted transaction changed something".into());
        }
        // Everything (the vector's handle, both maps, the pool) is dropped here.
    }

    let (shop, _) = Shop::open(&path)?;
    println!("dropped everything; reopened: {}", shop.counts()?);
    let customer = 7;
    println!("customer {customer}'s orders (by_customer, then the vector):");
    for o in shop.lookup(&shop.by_customer, key(customer, 0), key(customer + 1, 0))? {
        assert_eq!(o.customer, customer, "the index and the vector agree");
        print(&o);
    }
    let (from, to) = (ymd(2024, 3, 5), ymd(2024, 3, 18));
    println!(
        "orders from {} to {} (by_date, then the vector):",
        date(from),
        date(to)
    );
    for o in shop.lookup(&shop.by_date, key(from, 0), key(to + 1, 0))? {
        assert!(
            (from..=to).contains(&o.date),
            "the index and the vector agree"
        );
        print(&o);
    }
    let (p, c, d) = (
        shop.pool.check(),
        shop.by_customer.check(),
        shop.by_date.check(),
    );
    println!(
        "check: pool {}, by_customer {}, by_date {}",
        if p.is_ok() { "ok" } else { "FAILED" },
        if c.is_ok() { "ok" } else { "FAILED" },
        if d.is_ok() { "ok" } else { "FAILED" }
    );
    if !(p.is_ok() && c.is_ok() && d.is_ok()) {
        return Err(format!("check failed:\n{p}\n{c}\n{d}").into());
    }
    Ok(())
}
