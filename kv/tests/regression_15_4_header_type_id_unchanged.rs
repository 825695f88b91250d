//! Regression (issue 15, review): the comparator's name went into `KvRoot` as a new field, and
//! pobj's type id is made from the field names and types (docs/format.md §8): the header's id
//! changed, and every store written before failed to open (`RootTypeMismatch`), every map
//! header in a user's pool too (`TypeMismatch`). The name now lives in `reserved[0]`, the
//! layout of before. This pins the id at the value the build before comparators wrote: read
//! from the pool header (offset 120, `root_type_id`) of a store made by that build's
//! `pkv create` (commit f5d75fe). Fails without the fix.

use pobj::Persistent;

#[test]
fn the_header_type_id_is_the_one_stores_were_written_with() {
    assert_eq!(pobj_kv::KvRoot::TYPE_ID, 0x2ee4_7e4f_e11a_7eac);
}
