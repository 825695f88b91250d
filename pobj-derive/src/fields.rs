//! The struct's fields as the other parts of the expansion see them.

use proc_macro2::Span;
use syn::{DataStruct, Fields};

/// A field: how to name it in `offset_of!`, its type, and its name for messages and the type id.
pub(crate) struct Field<'a> {
    /// The field's name or index.
    pub(crate) member: syn::Member,
    /// Its type.
    pub(crate) ty: &'a syn::Type,
    /// Its name (or index) as text.
    pub(crate) name: String,
}

/// The fields of `data`, in declaration order.
pub(crate) fn fields(data: &DataStruct) -> Vec<Field<'_>> {
    match &data.fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let id = f
                    .ident
                    .clone()
                    .unwrap_or_else(|| syn::Ident::new("_", Span::call_site()));
                Field {
                    member: syn::Member::Named(id.clone()),
                    ty: &f.ty,
                    name: id.to_string(),
                }
            })
            .collect(),
        Fields::Unnamed(unnamed) => unnamed
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| Field {
                member: syn::Member::Unnamed(i.into()),
                ty: &f.ty,
                name: i.to_string(),
            })
            .collect(),
        Fields::Unit => Vec::new(),
    }
}
