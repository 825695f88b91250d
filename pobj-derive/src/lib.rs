//! `#[derive(Persistent)]`: proves at compile time that a struct may live in a pobj pool.
//!
//! The derive accepts a struct only when it is `#[repr(C)]` or `#[repr(transparent)]`, every
//! field's type implements `pobj::Persistent`, and there is no padding anywhere (checked field by
//! field with `offset_of!`, so the error names where the padding is). It also computes the type's
//! stable 64-bit type id from the struct's name and its fields' names and type ids, with a
//! `const fn` hash that does not depend on the compiler or the machine.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Fields, GenericParam};

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

fn check_repr(input: &DeriveInput) -> syn::Result<()> {
    let mut c_or_transparent = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("C") || meta.path.is_ident("transparent") {
                c_or_transparent = true;
                Ok(())
            } else if meta.path.is_ident("packed") {
                Err(meta.error(
                    "#[derive(Persistent)] does not support #[repr(packed)]: fields of a \
                     persistent type must be aligned; add explicit padding fields instead",
                ))
            } else if meta.path.is_ident("align") {
                // `align(N)` is accepted; any trailing padding it adds is caught by the
                // padding check below.
                if meta.input.peek(syn::token::Paren) {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let _: syn::LitInt = content.parse()?;
                }
                Ok(())
            } else {
                Ok(())
            }
        })?;
    }
    if c_or_transparent {
        Ok(())
    } else {
        Err(syn::Error::new(
            input.ident.span(),
            format!(
                "#[derive(Persistent)] requires #[repr(C)] or #[repr(transparent)] on `{}`: \
                 the layout of a persistent type must be fixed",
                input.ident
            ),
        ))
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let data = match &input.data {
        Data::Struct(s) => s,
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span(),
                format!(
                    "#[derive(Persistent)] cannot be used on enum `{name}`: an enum has invalid \
                     bit patterns (a damaged pool or a torn write could produce one)"
                ),
            ))
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                format!("#[derive(Persistent)] cannot be used on union `{name}`"),
            ))
        }
    };
    check_repr(input)?;

    for param in &input.generics.params {
        if let GenericParam::Lifetime(l) = param {
            return Err(syn::Error::new(
                l.span(),
                "a persistent type cannot have lifetime parameters: it may not hold references",
            ));
        }
    }

    // Every type parameter must itself be Persistent.
    let mut generics = input.generics.clone();
    for param in generics.params.iter_mut() {
        if let GenericParam::Type(t) = param {
            t.bounds.push(syn::parse_quote!(::pobj::Persistent));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    // Fields: name (or index) and type.
    let fields: Vec<(syn::Member, &syn::Type, String)> = match &data.fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let id = f
                    .ident
                    .clone()
                    .unwrap_or_else(|| syn::Ident::new("_", Span::call_site()));
                (syn::Member::Named(id.clone()), &f.ty, id.to_string())
            })
            .collect(),
        Fields::Unnamed(unnamed) => unnamed
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| (syn::Member::Unnamed(i.into()), &f.ty, i.to_string()))
            .collect(),
        Fields::Unit => Vec::new(),
    };

    // 1. Each field is Persistent: the type id below names `<FieldType as Persistent>::TYPE_ID`
    //    for every field, spanned at the field's type, so a field whose type is not `Persistent`
    //    gets exactly one error pointing at that field. (A separate assertion per field would
    //    report the same error twice.)

    // 2. No padding: each field starts where the previous one ended, and the struct ends where
    //    the last field ends.
    let name_str = name.to_string();
    let mut pad_checks = Vec::new();
    let mut prev: Option<(&syn::Member, &syn::Type, &String)> = None;
    for (member, ty, fname) in &fields {
        let msg = match prev {
            None => format!("`{name_str}` has padding before its first field `{fname}`"),
            Some((_, _, pname)) => format!(
                "`{name_str}` has padding between field `{pname}` and field `{fname}`: add an \
                 explicit field (for example `_pad: [u8; N]`) so that every byte is a field"
            ),
        };
        let expected_offset = match prev {
            None => quote!(0usize),
            Some((pm, pty, _)) => quote!(
                ::core::mem::offset_of!(Self, #pm) + ::core::mem::size_of::<#pty>()
            ),
        };
        pad_checks.push(quote! {
            ::core::assert!(::core::mem::offset_of!(Self, #member) == #expected_offset, #msg);
        });
        prev = Some((member, ty, fname));
    }
    let trailing = match prev {
        None => quote!(0usize),
        Some((pm, pty, _)) => {
            quote!(::core::mem::offset_of!(Self, #pm) + ::core::mem::size_of::<#pty>())
        }
    };
    let last_name = prev.map(|p| p.2.clone()).unwrap_or_default();
    let trailing_msg = format!(
        "`{name_str}` has trailing padding after its last field `{last_name}`: add an explicit \
         field (for example `_pad: [u8; N]`) so that the size is the sum of the fields"
    );
    pad_checks.push(quote! {
        ::core::assert!(::core::mem::size_of::<Self>() == #trailing, #trailing_msg);
    });
    // 2b. No padding inside the fields either: each field's own proof is part of this one, so
    //     that a field of a padded generic instantiation (`Outer { p: Pair<u8, u64> }`) fails
    //     wherever `Outer`'s proof is evaluated.
    for (_, ty, _) in &fields {
        pad_checks.push(quote_spanned! {ty.span()=>
            let () = <#ty as ::pobj::Persistent>::__LAYOUT_CHECK;
        });
    }

    // 3. Type id: name, then each field's name and type id.
    let id_fields = fields.iter().map(|(_, ty, fname)| {
        let field_id = quote_spanned! {ty.span()=> <#ty as ::pobj::Persistent>::TYPE_ID };
        quote! { .str(#fname).u64(#field_id) }
    });
    // Generic parameters, in order: a type parameter contributes its name hash, a const
    // parameter its value (all 128 bits; integers, `bool` and `char` all cast to `u128`), so that
    // `W<u32>` and `W<u64>`, or `A<4>` and `A<8>`, have different name hashes (and therefore
    // `PPtr<A<4>>` and `PPtr<A<8>>` have different type ids).
    let param_hashes: Vec<TokenStream2> = input
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
        .collect();
    let is_generic = !param_hashes.is_empty();

    // The padding check lives in a helper trait private to this expansion rather than directly
    // in `Persistent::__LAYOUT_CHECK`: naming `<T as Persistent>::…` requires `T: Persistent`,
    // so when the struct is not `Send`/`Sync`/`Copy` (a raw pointer or `UnsafeCell` field) every
    // such use would repeat the supertrait errors that the impl header already reports.
    //
    // Non-generic structs get the padding check evaluated eagerly at the definition; generic
    // ones when TYPE_ID is evaluated for a concrete instantiation (every pool entry point does).
    let eager = if !is_generic {
        quote! {
            const _: () = <#name as __PobjNoPadding>::CHECK;
        }
    } else {
        quote! {}
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
