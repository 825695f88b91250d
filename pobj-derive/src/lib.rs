//! `#[derive(Persistent)]`: proves at compile time that a struct may live in a pobj pool.
//!
//! The derive accepts a struct only when it is `#[repr(C)]` or `#[repr(transparent)]`, every
//! field's type implements `pobj::Persistent`, and there is no padding anywhere (checked field by
//! field with `offset_of!`, so the error names where the padding is). It also computes the type's
//! stable 64-bit type id from the struct's name and its fields' names and type ids, with a
//! `const fn` hash that does not depend on the compiler or the machine.

#![warn(clippy::too_many_lines)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{parse_macro_input, DeriveInput, GenericParam};

mod fields;
mod layout;
mod refuse;
mod type_id;

/// Derives `pobj::Persistent` for a `#[repr(C)]` or `#[repr(transparent)]` struct whose fields
/// are all `Persistent` and which has no padding.
#[proc_macro_derive(Persistent)]
pub fn derive_persistent(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let data = refuse::struct_data(input)?;
    refuse::check_repr(input)?;
    refuse::no_lifetimes(input)?;

    // Every type parameter must itself be Persistent.
    let mut generics = input.generics.clone();
    for param in &mut generics.params {
        if let GenericParam::Type(t) = param {
            t.bounds.push(syn::parse_quote!(::pobj::Persistent));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let fields = fields::fields(data);
    let name_str = name.to_string();
    // Each field is Persistent: the type id names `<FieldType as Persistent>::TYPE_ID` for
    // every field (a separate assertion per field would report the same error twice).
    let id_fields = type_id::field_ids(&fields);
    let pad_checks = layout::padding_checks(&name_str, &fields);
    let param_hashes = type_id::param_hashes(input);
    let is_generic = !param_hashes.is_empty();

    // The padding check lives in a helper trait private to this expansion rather than directly
    // in `Persistent::__LAYOUT_CHECK`: naming `<T as Persistent>::…` requires `T: Persistent`,
    // so when the struct is not `Send`/`Sync`/`Copy` (a raw pointer or `UnsafeCell` field) every
    // such use would repeat the supertrait errors that the impl header already reports.
    //
    // Non-generic structs get the padding check evaluated eagerly at the definition; generic
    // ones when TYPE_ID is evaluated for a concrete instantiation (every pool entry point does).
    let eager = if is_generic {
        quote! {}
    } else {
        quote! {
            const _: () = <#name as __PobjNoPadding>::CHECK;
        }
    };

    Ok(quote! {
        const _: () = {
            trait __PobjNoPadding {
                const CHECK: ();
            }

            impl #impl_generics __PobjNoPadding for #name #ty_generics #where_clause {
                const CHECK: () = {
                    #(#pad_checks)*
                };
            }

            // SAFETY: the derive checked that `#name` is `#[repr(C)]`/`#[repr(transparent)]`
            // (fixed layout), that every field's type is `Persistent` (so no references, DRAM
            // pointers or invalid bit patterns inside, and every bit pattern of each field is
            // valid), and `__PobjNoPadding::CHECK` (which is `__LAYOUT_CHECK`, and is evaluated by
            // `TYPE_ID`) proves there are no padding bytes, so every byte of the struct belongs to
            // a field and every bit pattern of the whole is valid.
            unsafe impl #impl_generics ::pobj::Persistent for #name #ty_generics #where_clause {
                const NAME_HASH: u64 = ::pobj::__private::TypeHasher::new()
                    .str(#name_str)
                    #(#param_hashes)*
                    .finish();
                const TYPE_ID: u64 = {
                    let () = <Self as __PobjNoPadding>::CHECK;
                    ::pobj::__private::TypeHasher::new()
                        .str(#name_str)
                        #(#param_hashes)*
                        #(#id_fields)*
                        .finish()
                };
                #[doc(hidden)]
                const __LAYOUT_CHECK: () = <Self as __PobjNoPadding>::CHECK;
            }

            #eager
        };
    })
}
