//! Checks a parsed interface trait against what TARS can carry and describes what to generate:
//! per method, its wire name, its parameters' tags, and the structs of its arguments and reply.

use std::collections::BTreeMap;

use proc_macro2::Span;
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, ItemTrait, Member, Path, PathArguments, ReturnType, Type,
    TypeReference,
};

use super::derive::{unsupported_type, FieldModel, Presence, StructModel};
use crate::parse::derive::Errors;
use crate::parse::interface::{InterfaceArgs, ParsedMethod, ParsedTrait};

/// What a parameter is on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// An input: taken by value, sent by the client.
    In,
    /// An out-parameter: `&mut T`, sent back in the reply (and sent empty in the request, as TarsCpp does).
    Out,
    /// `&Current`: the request context, not on the wire.
    Current,
}

pub struct ParamModel {
    pub ident: Ident,
    /// For an out-parameter, the `T` of `&mut T`.
    pub ty: Type,
    pub kind: ParamKind,
}

pub struct MethodModel {
    pub ident: Ident,
    pub wire_name: String,
    pub params: Vec<ParamModel>,
    /// The return value's type; `None` for `()`.
    pub ret: Option<Type>,
    /// The method's doc attributes, repeated on the proxy's method.
    pub docs: Vec<syn::Attribute>,
    /// The parameters sent in the request: inputs and out-parameters at their tags.
    pub args: StructModel,
    /// The reply's `sBuffer`: the return value at tag 0, out-parameters at their tags.
    pub reply: StructModel,
}

pub struct InterfaceModel {
    /// The trait as written, `#[tars]` attributes removed.
    pub item: ItemTrait,
    pub krate: Path,
    pub methods: Vec<MethodModel>,
    /// The `#[tars(on_close)]` method: called with the last `Current` when a connection closes.
    pub on_close: Option<Ident>,
    pub servant_ident: Ident,
    pub proxy_ident: Ident,
}

/// The member name of the return value in a reply struct; user parameters cannot start with `__`.
pub const RETURN_FIELD: &str = "__ret";

impl InterfaceModel {
    pub fn build(args: InterfaceArgs, parsed: ParsedTrait) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let item = parsed.item;
        if !item.generics.params.is_empty() {
            errors.push(syn::Error::new(
                item.generics.span(),
                "a TARS interface cannot be generic; remove the type parameters",
            ));
        }
        let krate = args.krate.unwrap_or_else(|| syn::parse_quote!(::tars_rpc));
        let mut methods = Vec::new();
        let mut on_close = None;
        let mut wire_names: BTreeMap<String, Ident> = BTreeMap::new();
        for method in parsed.methods {
            if method.on_close.is_some() {
                if let Some(hook) = on_close_hook(&method, &mut errors) {
                    if let Some(previous) = on_close.replace(hook.clone()) {
                        errors.push(syn::Error::new(
                            hook.span(),
                            format!(
                                "`{previous}` is already the `#[tars(on_close)]` hook; keep one"
                            ),
                        ));
                    }
                }
                continue;
            }
            let Some(model) = MethodModel::build(&item.ident, &krate, method, &mut errors) else {
                continue;
            };
            if let Some(other) = wire_names.insert(model.wire_name.clone(), model.ident.clone()) {
                errors.push(syn::Error::new(
                    model.ident.span(),
                    format!(
                        "`{}` has the wire name `{}` of `{other}`; give one of them another with `#[tars(name = \"...\")]`",
                        model.ident, model.wire_name
                    ),
                ));
            }
            methods.push(model);
        }
        let servant_ident = format_ident!("{}Servant", item.ident);
        let proxy_ident = format_ident!("{}Proxy", item.ident);
        errors.finish(Self {
            item,
            krate,
            methods,
            on_close,
            servant_ident,
            proxy_ident,
        })
    }
}

impl MethodModel {
    fn build(
        trait_ident: &Ident,
        krate: &Path,
        parsed: ParsedMethod,
        errors: &mut Errors,
    ) -> Option<Self> {
        let sig = &parsed.item.sig;
        let ident = sig.ident.clone();
        let before = errors.count();
        check_method_shape(
            trait_ident,
            &parsed,
            &MethodRole {
                plural: "TARS interface methods",
                declares: "the interface",
                implementor: "YourType",
                singular: "a method called over TARS",
            },
            errors,
        );
        if sig.variadic.is_some() {
            errors.push(syn::Error::new(
                sig.variadic.span(),
                "variadic parameters cannot go over TARS",
            ));
        }

        let ret = return_value(sig, errors);
        let mut params = Vec::new();
        let mut seen_current: Option<Span> = None;
        for param in &parsed.params {
            if param.ident.to_string().starts_with("__") {
                errors.push(syn::Error::new(
                    param.ident.span(),
                    "parameter names starting with `__` are reserved for generated code",
                ));
            }
            let (kind, ty) = match &param.ty {
                Type::Reference(TypeReference {
                    mutability: Some(_),
                    elem,
                    ..
                }) => (ParamKind::Out, (**elem).clone()),
                Type::Reference(reference) if is_current(&reference.elem) => {
                    if seen_current.replace(param.span).is_some() {
                        errors.push(syn::Error::new(param.span, "take `&Current` once"));
                    }
                    (ParamKind::Current, (*reference.elem).clone())
                }
                Type::Reference(reference) => {
                    let owned = match &*reference.elem {
                        Type::Path(path) if path.path.is_ident("str") => "String".to_string(),
                        Type::Slice(slice) => {
                            let elem = &slice.elem;
                            format!("Vec<{}>", quote::quote!(#elem))
                        }
                        elem => quote::quote!(#elem).to_string(),
                    };
                    errors.push(syn::Error::new(
                        param.ty.span(),
                        format!(
                            "take an input by value (`{}: {owned}`), or write `&mut` for an out-parameter",
                            param.ident
                        ),
                    ));
                    continue;
                }
                other => (ParamKind::In, other.clone()),
            };
            if kind != ParamKind::Current {
                if let Some(error) = unsupported_type(&ty) {
                    errors.push(error);
                }
            }
            params.push(ParamModel {
                ident: param.ident.clone(),
                ty,
                kind,
            });
        }
        let wire_params = params
            .iter()
            .filter(|param| param.kind != ParamKind::Current)
            .count();
        if wire_params > 255 {
            errors.push(syn::Error::new(
                sig.inputs.span(),
                "a TARS method has at most 255 parameters",
            ));
        }
        if errors.count() > before {
            return None;
        }
        let ret = ret?;

        let wire_name = match &parsed.wire_name {
            Some(name) => name.value(),
            None => lower_camel_case(&ident.to_string()),
        };
        let method_camel = upper_camel_case(&ident.to_string());
        let mut args_fields = Vec::new();
        let mut reply_fields = Vec::new();
        if let Some(ret) = &ret {
            reply_fields.push(FieldModel {
                member: Member::Named(Ident::new(RETURN_FIELD, Span::call_site())),
                name: "return".to_string(),
                ty: ret.clone(),
                tag: 0,
                presence: Presence::Required,
            });
        }
        let wire = params
            .iter()
            .filter(|param| param.kind != ParamKind::Current);
        for (tag, param) in (1u8..).zip(wire) {
            let field = |presence| FieldModel {
                member: Member::Named(param.ident.clone()),
                name: param.ident.to_string(),
                ty: param.ty.clone(),
                tag,
                presence,
            };
            match param.kind {
                ParamKind::In => args_fields.push(field(Presence::Required)),
                ParamKind::Out => {
                    args_fields.push(field(Presence::AlwaysWritten));
                    reply_fields.push(field(Presence::AlwaysWritten));
                }
                ParamKind::Current => {}
            }
        }
        let generated_struct = |suffix: &str, fields| StructModel {
            ident: format_ident!("__Tars{}{}{}", trait_ident, method_camel, suffix),
            generics: syn::Generics::default(),
            krate: krate.clone(),
            fields,
        };
        let docs = parsed
            .item
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident("doc"))
            .cloned()
            .collect();
        Some(Self {
            args: generated_struct("Args", args_fields),
            reply: generated_struct("Reply", reply_fields),
            ident,
            wire_name,
            params,
            ret,
            docs,
        })
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
/// not generic, taking `&self`.
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
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.mutability.is_none() => {}
        Some(FnArg::Receiver(receiver)) => errors.push(syn::Error::new(
            receiver.span(),
            "take `&self`: the runtime calls it from many tasks at once",
        )),
        _ => errors.push(syn::Error::new(
            sig.ident.span(),
            format!("`{ident}` needs a `&self` receiver"),
        )),
    }
}

/// Checks the `#[tars(on_close)]` hook: `async fn name(&self, current: &Current)`.
fn on_close_hook(method: &ParsedMethod, errors: &mut Errors) -> Option<Ident> {
    let sig = &method.item.sig;
    let expected = format!(
        "write the connection-closed hook as `async fn {}(&self, current: &Current);`",
        sig.ident
    );
    let receiver_ok = matches!(sig.inputs.first(),
        Some(FnArg::Receiver(receiver)) if receiver.reference.is_some() && receiver.mutability.is_none());
    let params_ok = method.params.len() == 1
        && matches!(&method.params[0].ty, Type::Reference(reference)
            if reference.mutability.is_none() && is_current(&reference.elem));
    let output_ok = match &sig.output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()),
    };
    let shape_ok = sig.asyncness.is_some()
        && receiver_ok
        && params_ok
        && output_ok
        && sig.generics.params.is_empty()
        && method.item.default.is_none()
        && method.wire_name.is_none();
    if shape_ok {
        Some(sig.ident.clone())
    } else {
        errors.push(syn::Error::new(sig.span(), expected));
        None
    }
}

/// `T` of a `Result<T>` return type, `None` for `()`; an error for anything else.
fn return_value(sig: &syn::Signature, errors: &mut Errors) -> Option<Option<Type>> {
    const ADVICE: &str =
        "return `tars_rpc::Result<T>`: `T` is the return value (tag 0), `()` for none; an `Err` becomes the reply's iRet and sResultDesc";
    let ReturnType::Type(_, ty) = &sig.output else {
        errors.push(syn::Error::new(
            sig.ident.span(),
            format!("`{}` has no return type; {ADVICE}", sig.ident),
        ));
        return None;
    };
    let ok_type = match &**ty {
        Type::Path(path) => path.path.segments.last().and_then(|segment| {
            if segment.ident != "Result" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &segment.arguments else {
                return None;
            };
            match args.args.first() {
                Some(GenericArgument::Type(ty)) => Some(ty.clone()),
                _ => None,
            }
        }),
        _ => None,
    };
    let Some(ok_type) = ok_type else {
        errors.push(syn::Error::new(ty.span(), ADVICE));
        return None;
    };
    if matches!(&ok_type, Type::Tuple(tuple) if tuple.elems.is_empty()) {
        return Some(None);
    }
    if let Some(error) = unsupported_type(&ok_type) {
        errors.push(error);
        return None;
    }
    Some(Some(ok_type))
}

fn is_current(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none()
        && path.path.segments.last().is_some_and(|segment| segment.ident == "Current"))
}

/// `test_hello` → `testHello`, as tars2cpp names functions.
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
    }
}
