//! The type id's parts: the generic parameters of the name hash and the fields' ids.

use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, GenericParam};

use crate::fields::Field;

/// Each field's name and type id, as `TypeHasher` calls. The field's id is spanned at its
/// type, so a field whose type is not `Persistent` gets exactly one error pointing at it.
pub(crate) fn field_ids(fields: &[Field<'_>]) -> Vec<TokenStream2> {
    fields
        .iter()
        .map(|f| {
            let (ty, fname) = (f.ty, &f.name);
            let field_id = quote_spanned! {ty.span()=> <#ty as ::pobj::Persistent>::TYPE_ID };
            quote! { .str(#fname).u64(#field_id) }
        })
        .collect()
}

/// Generic parameters, in order: a type parameter contributes its name hash, a const
/// parameter its value (all 128 bits; integers, `bool` and `char` all cast to `u128`), so that
/// `W<u32>` and `W<u64>`, or `A<4>` and `A<8>`, have different name hashes (and therefore
/// `PPtr<A<4>>` and `PPtr<A<8>>` have different type ids).
pub(crate) fn param_hashes(input: &DeriveInput) -> Vec<TokenStream2> {
    input
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => {
                let t = &t.ident;
                Some(quote! { .u64(<#t as ::pobj::Persistent>::NAME_HASH) })
            }
            GenericParam::Const(c) => {
                let c = &c.ident;
                Some(quote! { .u64(#c as u128 as u64).u64(((#c as u128) >> 64) as u64) })
            }
            GenericParam::Lifetime(_) => None,
        })
        .collect()
}
