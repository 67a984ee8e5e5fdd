//! Checks a parsed interface trait against what TARS can carry and describes what to generate:
//! per method, its parameters and the `Function` marker that gives the runtime its wire names
//! and slots.

use std::collections::BTreeMap;

use proc_macro2::Span;
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, ItemTrait, Path, PathArguments, ReturnType, Type, TypeReference,
};

use super::derive::unsupported_type;
use super::function::{
    check_method_shape, check_no_wire_name, check_wire_params, forwarded_attrs, method_wire_name,
    param_wire_name, FunctionModel, MethodRole, Slot, WireValue,
};
use crate::parse::derive::Errors;
use crate::parse::interface::{InterfaceArgs, ParsedMethod, ParsedParam, ParsedTrait};

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
    /// The name on the wire (unused for `&Current`).
    pub wire_name: String,
}

pub struct MethodModel {
    pub ident: Ident,
    /// All parameters in declaration order, `&Current` included.
    pub params: Vec<ParamModel>,
    /// The return value's type; `None` for `()`.
    pub ret: Option<Type>,
    /// The method's docs and `#[allow]`s, repeated on the proxy's methods.
    pub attrs: Vec<syn::Attribute>,
    /// The return value at tag 0, the inputs and out-parameters at tags 1, 2, ...
    pub function: FunctionModel,
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
            methods.extend(MethodModel::build(&item.ident, method, &mut errors));
        }
        check_method_wire_names(
            methods
                .iter()
                .map(|method| (&method.ident, method.function.wire_name.as_str())),
            &mut errors,
        );
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

/// Checks that no two methods share a wire name.
pub fn check_method_wire_names<'a>(
    methods: impl Iterator<Item = (&'a Ident, &'a str)>,
    errors: &mut Errors,
) {
    let mut wire_names: BTreeMap<&str, &Ident> = BTreeMap::new();
    for (ident, wire_name) in methods {
        if let Some(other) = wire_names.insert(wire_name, ident) {
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "`{ident}` has the wire name `{wire_name}` of `{other}`; give one of them another with `#[tars(name = \"...\")]`"
                ),
            ));
        }
    }
}

impl MethodModel {
    fn build(trait_ident: &Ident, parsed: ParsedMethod, errors: &mut Errors) -> Option<Self> {
        let sig = &parsed.item.sig;
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
        let ret = return_value(sig, errors);
        let params = params(&parsed.params, errors);
        let values = wire_values(&params);
        let names: Vec<_> = (params.iter())
            .filter(|param| param.kind != ParamKind::Current)
            .map(|param| (&param.ident, param.wire_name.as_str()))
            .collect();
        check_wire_params(sig, &names, errors);
        if errors.count() > before {
            return None;
        }
        let ret = ret?;
        let ret_value = ret.clone().map(|ty| (Slot::Ret, ty));
        let function = FunctionModel::new(
            trait_ident,
            sig,
            method_wire_name(&parsed),
            ret_value,
            values,
        );
        Some(Self {
            ident: sig.ident.clone(),
            attrs: forwarded_attrs(&parsed),
            params,
            ret,
            function,
        })
    }
}

/// The inputs and out-parameters at tags 1, 2, ...
fn wire_values(params: &[ParamModel]) -> Vec<WireValue> {
    (params.iter())
        .filter_map(|param| {
            let slot = match param.kind {
                ParamKind::In => Slot::In,
                ParamKind::Out => Slot::Out,
                ParamKind::Current => return None,
            };
            Some(WireValue {
                slot,
                ty: param.ty.clone(),
                wire_name: param.wire_name.clone(),
            })
        })
        .collect()
}

/// The parameters of a method: inputs, out-parameters and `&Current`, each checked.
fn params(parsed: &[ParsedParam], errors: &mut Errors) -> Vec<ParamModel> {
    let mut params = Vec::new();
    let mut seen_current: Option<Span> = None;
    for param in parsed {
        if param.ident.to_string().starts_with("__") {
            errors.push(syn::Error::new(
                param.ident.span(),
                "parameter names starting with `__` are reserved for generated code",
            ));
        }
        let Some((kind, ty)) = param_kind(param, errors) else {
            continue;
        };
        if kind == ParamKind::Current {
            check_no_wire_name(param, "`&Current` is not on the wire", errors);
            if seen_current.replace(param.span).is_some() {
                errors.push(syn::Error::new(param.span, "take `&Current` once"));
            }
        } else if let Some(error) = unsupported_type(&ty) {
            errors.push(error);
        }
        params.push(ParamModel {
            ident: param.ident.clone(),
            ty,
            kind,
            wire_name: param_wire_name(param),
        });
    }
    params
}

/// What a parameter is by its type: `&mut T` an out-parameter, `&Current` the context, a value
/// an input; any other reference is an error.
fn param_kind(param: &ParsedParam, errors: &mut Errors) -> Option<(ParamKind, Type)> {
    match &param.ty {
        Type::Reference(TypeReference {
            mutability: Some(_),
            elem,
            ..
        }) => Some((ParamKind::Out, (**elem).clone())),
        Type::Reference(reference) if is_current(&reference.elem) => {
            Some((ParamKind::Current, (*reference.elem).clone()))
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
            None
        }
        other => Some((ParamKind::In, other.clone())),
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
        && method.params[0].wire_name.is_none()
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
