//! The layout proof: no padding before, between or after the fields, nor inside them.

use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::fields::Field;

/// Const assertions, evaluated in the expansion's `__PobjNoPadding::CHECK`, that each field
/// starts where the previous one ended, that the struct ends where the last field ends, and
/// that each field's own layout proof holds.
pub(crate) fn padding_checks(name: &str, fields: &[Field<'_>]) -> Vec<TokenStream2> {
    let mut checks = Vec::new();
    let mut prev: Option<&Field<'_>> = None;
    for f in fields {
        let (member, fname) = (&f.member, &f.name);
        let msg = match prev {
            None => format!("`{name}` has padding before its first field `{fname}`"),
            Some(p) => format!(
                "`{name}` has padding between field `{}` and field `{fname}`: add an \
                 explicit field (for example `_pad: [u8; N]`) so that every byte is a field",
                p.name
            ),
        };
        let expected_offset = end_of(prev);
        checks.push(quote! {
            ::core::assert!(::core::mem::offset_of!(Self, #member) == #expected_offset, #msg);
        });
        prev = Some(f);
    }
    let trailing = end_of(prev);
    let last_name = prev.map(|p| p.name.clone()).unwrap_or_default();
    let trailing_msg = format!(
        "`{name}` has trailing padding after its last field `{last_name}`: add an explicit \
         field (for example `_pad: [u8; N]`) so that the size is the sum of the fields"
    );
    checks.push(quote! {
        ::core::assert!(::core::mem::size_of::<Self>() == #trailing, #trailing_msg);
    });
    // No padding inside the fields either: each field's own proof is part of this one, so that
    // a field of a padded generic instantiation (`Outer { p: Pair<u8, u64> }`) fails wherever
    // `Outer`'s proof is evaluated.
    for f in fields {
        let ty = f.ty;
        checks.push(quote_spanned! {ty.span()=>
            let () = <#ty as ::pobj::Persistent>::__LAYOUT_CHECK;
        });
    }
    checks
}

/// Where the field `prev` ends (0 before the first field).
fn end_of(prev: Option<&Field<'_>>) -> TokenStream2 {
    match prev {
        None => quote!(0usize),
        Some(p) => {
            let (pm, pty) = (&p.member, p.ty);
            quote!(::core::mem::offset_of!(Self, #pm) + ::core::mem::size_of::<#pty>())
        }
    }
}
