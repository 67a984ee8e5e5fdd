//! What interface methods and pushes share: the checks every method of such a trait passes,
//! wire names, and the `Function` marker each method gets, which tells the runtime's parameter
//! codec (`__private::params`) the method's names and slots.

use std::collections::BTreeMap;

use proc_macro2::Span;
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Type};

use crate::parse::derive::Errors;
use crate::parse::interface::{ParsedMethod, ParsedParam};

/// What the runtime does with a value, on the request and on the reply side (see the table in
/// the runtime's `__private::params`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `__private::In`: in the request, required.
    In,
    /// `__private::Out`: in the request (empty) and the reply, `Default` when absent.
    Out,
    /// `__private::Ret`: the return value of an interface method, required in the reply.
    Ret,
}

/// A value on the wire at its tag.
pub struct WireValue {
    pub slot: Slot,
    /// The value's type (for an out-parameter, the `T` of `&mut T`).
    pub ty: Type,
    /// The wire name, naming it in errors.
    pub wire_name: String,
}

/// What the generated `Function` marker of a method says.
pub struct FunctionModel {
    /// The marker type: `__Tars{Trait}_{method}`.
    pub marker: Ident,
    /// The request's `sFuncName` or the push's `TARS_FUNC`.
    pub wire_name: String,
    /// `Trait.wireName`, naming the function in errors.
    pub path: String,
    /// The value at tag 0, if any: the return value, whose name in errors is "return value".
    pub ret: Option<(Slot, Type)>,
    /// The values at tags 1, 2, ...
    pub params: Vec<WireValue>,
    /// The method's parameter list, where errors about them all point.
    pub params_span: Span,
}

impl FunctionModel {
    pub fn new(
        trait_ident: &Ident,
        sig: &syn::Signature,
        wire_name: String,
        ret: Option<(Slot, Type)>,
        params: Vec<WireValue>,
    ) -> Self {
        let trait_name = unraw(trait_ident);
        // where the parameters are, resolving names as the rest of the generated code does
        // (were the method written by a `macro_rules!`, its own spans could not see the
        // generated locals)
        let params_span = sig.paren_token.span.join().resolved_at(Span::call_site());
        Self {
            // spanned at the parameters: what fails to type-check through the marker (a type
            // without a TARS encoding) is reported there rather than at the attribute
            marker: format_ident!(
                "__Tars{}_{}",
                trait_name,
                unraw(&sig.ident),
                span = params_span
            ),
            path: format!("{trait_name}.{wire_name}"),
            wire_name,
            ret,
            params,
            params_span,
        }
    }
}

/// What the methods of a trait are, for the messages of [`check_method_shape`].
pub struct MethodRole<'a> {
    /// e.g. "push callbacks"
    pub plural: &'a str,
    /// e.g. "the pushes"
    pub declares: &'a str,
    /// e.g. "YourCallback"
    pub implementor: &'a str,
    /// e.g. "a push callback"
    pub singular: &'a str,
}

/// Checks what every method of an interface or push trait must be: `async`, without a body,
/// not generic, not variadic, taking `&self`.
pub fn check_method_shape(
    trait_ident: &Ident,
    parsed: &ParsedMethod,
    role: &MethodRole<'_>,
    errors: &mut Errors,
) {
    let sig = &parsed.item.sig;
    let ident = &sig.ident;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span(),
            format!("{} are async: write `async fn {ident}(...)`", role.plural),
        ));
    }
    if let Some(body) = &parsed.item.default {
        errors.push(syn::Error::new(
            body.span(),
            format!(
                "the trait declares {}; write the body of `{ident}` in `impl {trait_ident} for {}`",
                role.declares, role.implementor
            ),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            format!("{} cannot be generic; use concrete types", role.singular),
        ));
    }
    if sig.variadic.is_some() {
        errors.push(syn::Error::new(
            sig.variadic.span(),
            "variadic parameters cannot go over TARS",
        ));
    }
    check_receiver(sig, errors);
}

fn check_receiver(sig: &syn::Signature, errors: &mut Errors) {
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.mutability.is_none() => {}
        Some(FnArg::Receiver(receiver)) => errors.push(syn::Error::new(
            receiver.span(),
            "take `&self`: the runtime calls it from many tasks at once",
        )),
        _ => errors.push(syn::Error::new(
            sig.ident.span(),
            format!("`{}` needs a `&self` receiver", sig.ident),
        )),
    }
}

/// Checks that a method has at most 255 values on the wire (tags 1 to 255) and that no two of
/// its parameters share a wire name. `params` are the wire parameters: ident and wire name.
pub fn check_wire_params(sig: &syn::Signature, params: &[(&Ident, &str)], errors: &mut Errors) {
    if params.len() > 255 {
        errors.push(syn::Error::new(
            sig.inputs.span(),
            "a TARS method has at most 255 parameters; group some in a struct that derives `TarsStruct`",
        ));
    }
    let mut seen: BTreeMap<&str, &Ident> = BTreeMap::new();
    for &(ident, wire_name) in params {
        if let Some(other) = seen.insert(wire_name, ident) {
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "`{ident}` has the wire name `{wire_name}` of `{other}`; give one of them another with `#[tars(name = \"...\")]`"
                ),
            ));
        }
    }
}

/// A method's wire name: `#[tars(name = "...")]`, or its name in lowerCamelCase.
pub fn method_wire_name(parsed: &ParsedMethod) -> String {
    match &parsed.wire_name {
        Some(name) => name.value(),
        None => lower_camel_case(&parsed.item.sig.ident.to_string()),
    }
}

/// A parameter's wire name: `#[tars(name = "...")]`, or its name in lowerCamelCase.
pub fn param_wire_name(param: &ParsedParam) -> String {
    match &param.wire_name {
        Some(name) => name.value(),
        None => lower_camel_case(&param.ident.to_string()),
    }
}

/// The attributes of a method repeated on what is generated for it: its docs, and its
/// `#[allow(...)]`s, as the lints they silence (`clippy::too_many_arguments`) may fire on the
/// generated methods too.
pub fn forwarded_attrs(parsed: &ParsedMethod) -> Vec<syn::Attribute> {
    parsed
        .item
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc") || attr.path().is_ident("allow"))
        .cloned()
        .collect()
}

/// Rejects `#[tars(name = "...")]` on a parameter that has no wire name, saying `why`.
pub fn check_no_wire_name(param: &ParsedParam, why: &str, errors: &mut Errors) {
    if let Some(name) = &param.wire_name {
        errors.push(syn::Error::new(
            name.span(),
            format!("{why}; remove `#[tars(name = ...)]`"),
        ));
    }
}

fn unraw(ident: &Ident) -> String {
    ident.to_string().trim_start_matches("r#").to_string()
}

/// `test_hello` → `testHello`, as tars2cpp names functions and parameters (`s_req` → `sReq`).
pub fn lower_camel_case(name: &str) -> String {
    let camel = upper_camel_case(name);
    let mut chars = camel.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => camel,
    }
}

/// `test_hello` → `TestHello`.
pub fn upper_camel_case(name: &str) -> String {
    name.trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_lower_camel_case() {
        assert_eq!(lower_camel_case("test_hello"), "testHello");
        assert_eq!(lower_camel_case("register_push"), "registerPush");
        assert_eq!(lower_camel_case("get_user_by_id"), "getUserById");
        assert_eq!(lower_camel_case("ping"), "ping");
        assert_eq!(lower_camel_case("already_camelCase"), "alreadyCamelCase");
        assert_eq!(lower_camel_case("r#type"), "type");
        assert_eq!(lower_camel_case("s_req"), "sReq");
    }
}
