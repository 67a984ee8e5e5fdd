//! What interfaces and pushes generate alike: a method's `Function` marker and the tuples its
//! values travel in through the runtime's parameter codec.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::function::{FunctionModel, Slot};

/// The largest tuple of slots the runtime implements (`__private::params`); longer ones nest.
const MAX_TUPLE: usize = 16;

/// A tuple of `items` as the runtime's tuples of slots take it: with more than [`MAX_TUPLE`]
/// items, the last element is a tuple of the rest, nested again as needed. Types, arguments and
/// patterns of one function all nest the same way.
pub fn nest(mut items: Vec<TokenStream>) -> TokenStream {
    if items.len() > MAX_TUPLE {
        let rest = items.split_off(MAX_TUPLE - 1);
        items.push(nest(rest));
    }
    quote!((#(#items,)*))
}

/// `tokens`, code that goes through the marker of `function`, located at the function's
/// parameters: where a parameter type without a TARS encoding fails it, the error points there
/// rather than at the attribute.
pub fn at_params(function: &FunctionModel, tokens: TokenStream) -> TokenStream {
    respan(tokens, function.params_span)
}

/// The `#[allow(...)]`s among a method's forwarded attributes, for generated methods that
/// have docs of their own.
pub fn allows(attrs: &[syn::Attribute]) -> impl Iterator<Item = &syn::Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("allow"))
}

/// The marker type of a function and its `Function` impl: its names and slots.
pub fn marker(function: &FunctionModel, p: &TokenStream) -> TokenStream {
    let FunctionModel {
        marker,
        wire_name,
        path,
        ..
    } = function;
    let ret = match &function.ret {
        Some((slot, ty)) => slot_type(*slot, ty, p),
        None => quote!(()),
    };
    let params = nest(
        function
            .params
            .iter()
            .map(|param| slot_type(param.slot, &param.ty, p))
            .collect(),
    );
    // a type without a TARS encoding fails the tuple's bounds too: reported at the parameters
    let params = respan_delimiters(params, function.params_span);
    let names = function.params.iter().map(|param| &param.wire_name);
    let enum_item = quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        enum #marker {}
    };
    // located at the parameters, as the marker and its `Params` are
    quote_spanned! {function.params_span=>
        #enum_item

        impl #p::Function for #marker {
            const NAME: &'static str = #wire_name;
            const PATH: &'static str = #path;
            const PARAMS: &'static [&'static str] = &[#(#names),*];
            type Return = #ret;
            type Params = #params;
        }
    }
}

/// `In<T>`, `Out<T>` or `Ret<T>`, all its tokens located at the type so that a type without a
/// TARS encoding is reported at the parameter rather than at the attribute.
fn slot_type(slot: Slot, ty: &syn::Type, p: &TokenStream) -> TokenStream {
    let slot = match slot {
        Slot::In => quote!(In),
        Slot::Out => quote!(Out),
        Slot::Ret => quote!(Ret),
    };
    respan(quote!(#p::#slot<#ty>), ty.span())
}

/// `tokens` located at `at`, each still resolving names as its own span did (a user's
/// parameter as the user's code, a generated local as generated code): only where errors
/// point changes.
fn respan(tokens: TokenStream, at: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), at));
                respanned.set_span(at.resolved_at(group.span()));
                token = TokenTree::Group(respanned);
            }
            token.set_span(at.resolved_at(token.span()));
            token
        })
        .collect()
}

/// `tokens` with the delimiters of its top-level groups located at `span`.
fn respan_delimiters(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut respanned = Group::new(group.delimiter(), group.stream());
                respanned.set_span(span.resolved_at(group.span()));
                TokenTree::Group(respanned)
            }
            other => other,
        })
        .collect()
}
