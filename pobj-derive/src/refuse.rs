//! What the derive refuses before it looks at fields: enums, unions, lifetimes, and structs
//! without a fixed layout.

use syn::spanned::Spanned;
use syn::{Data, DataStruct, DeriveInput, GenericParam};

/// The struct's data, or the error for an enum or a union.
pub(crate) fn struct_data(input: &DeriveInput) -> syn::Result<&DataStruct> {
    let name = &input.ident;
    match &input.data {
        Data::Struct(s) => Ok(s),
        Data::Enum(e) => Err(syn::Error::new(
            e.enum_token.span(),
            format!(
                "#[derive(Persistent)] cannot be used on enum `{name}`: an enum has invalid \
                 bit patterns (a damaged pool or a torn write could produce one)"
            ),
        )),
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span(),
            format!("#[derive(Persistent)] cannot be used on union `{name}`"),
        )),
    }
}

/// Refuses lifetime parameters: a persistent type may not hold references.
pub(crate) fn no_lifetimes(input: &DeriveInput) -> syn::Result<()> {
    for param in &input.generics.params {
        if let GenericParam::Lifetime(l) = param {
            return Err(syn::Error::new(
                l.span(),
                "a persistent type cannot have lifetime parameters: it may not hold references",
            ));
        }
    }
    Ok(())
}

/// Requires `#[repr(C)]` or `#[repr(transparent)]`, and refuses `#[repr(packed)]`.
pub(crate) fn check_repr(input: &DeriveInput) -> syn::Result<()> {
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
