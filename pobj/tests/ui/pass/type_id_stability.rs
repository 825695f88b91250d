// Type ids are stable: they depend only on the struct's name and its fields' names and type ids
// (not on the module path, the compiler or the machine). The same name and fields give the
// same id; renaming a field, changing a field's type, reordering fields or renaming the struct
// gives another id.
use pobj::Persistent;

mod v1 {
    #[derive(pobj::Persistent, Clone, Copy)]
    #[repr(C)]
    pub struct Account {
        pub id: u64,
        pub balance: i64,
    }
}

mod v1_again {
    // Same name, same fields, defined elsewhere: same id.
    #[derive(pobj::Persistent, Clone, Copy)]
    #[repr(C)]
    pub struct Account {
        pub id: u64,
        pub balance: i64,
    }
}

mod renamed_field {
    #[derive(pobj::Persistent, Clone, Copy)]
    #[repr(C)]
    pub struct Account {
        pub id: u64,
        pub amount: i64,
    }
}

mod retyped_field {
    #[derive(pobj::Persistent, Clone, Copy)]
    #[repr(C)]
    pub struct Account {
        pub id: u64,
        pub balance: u64,
    }
}

mod reordered {
    #[derive(pobj::Persistent, Clone, Copy)]
    #[repr(C)]
    pub struct Account {
        pub balance: i64,
        pub id: u64,
    }
}

mod renamed_struct {
    #[derive(pobj::Persistent, Clone, Copy)]
    #[repr(C)]
    pub struct Wallet {
        pub id: u64,
        pub balance: i64,
    }
}

const V1: u64 = <v1::Account as Persistent>::TYPE_ID;

const _: () = assert!(V1 == <v1_again::Account as Persistent>::TYPE_ID);
const _: () = assert!(V1 != <renamed_field::Account as Persistent>::TYPE_ID);
const _: () = assert!(V1 != <retyped_field::Account as Persistent>::TYPE_ID);
const _: () = assert!(V1 != <reordered::Account as Persistent>::TYPE_ID);
const _: () = assert!(V1 != <renamed_struct::Wallet as Persistent>::TYPE_ID);
// The name hash depends on the name only.
const _: () = assert!(
    <v1::Account as Persistent>::NAME_HASH == <renamed_field::Account as Persistent>::NAME_HASH
);

fn main() {
    // The same checks at run time, and the ids are distinct from one another.
    let ids = [
        V1,
        <renamed_field::Account as Persistent>::TYPE_ID,
        <retyped_field::Account as Persistent>::TYPE_ID,
        <reordered::Account as Persistent>::TYPE_ID,
        <renamed_struct::Wallet as Persistent>::TYPE_ID,
    ];
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(V1, <v1_again::Account as Persistent>::TYPE_ID);
    let first = v1::Account { id: 1, balance: -1 };
    let again = v1_again::Account { id: 2, balance: -2 };
    let renamed = renamed_field::Account { id: 3, amount: -3 };
    let retyped = retyped_field::Account { id: 4, balance: 4 };
    let reordered = reordered::Account { balance: -5, id: 5 };
    let wallet = renamed_struct::Wallet { id: 6, balance: -6 };
    assert_eq!(
        first.id + again.id + renamed.id + retyped.id + retyped.balance + reordered.id + wallet.id,
        25
    );
    assert_eq!(
        first.balance + again.balance + renamed.amount + reordered.balance + wallet.balance,
        -17
    );
}
