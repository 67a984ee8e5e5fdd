//! Checks a parsed `#[tars_push]` trait and describes what to generate: per method, the
//! variant of the event enum and the `Function` marker of the push's values.

use quote::format_ident;
use syn::spanned::Spanned;
use syn::{Ident, ItemTrait, Path, ReturnType, Type};

use super::derive::unsupported_type;
use super::function::{
    check_method_shape, check_no_wire_name, check_wire_params, forwarded_attrs, method_wire_name,
    param_wire_name, upper_camel_case, FunctionModel, MethodRole, Slot, WireValue,
};
use super::interface::check_method_wire_names;
use crate::parse::derive::Errors;
use crate::parse::interface::{InterfaceArgs, ParsedMethod, ParsedParam, ParsedTrait};

/// The name that marks the return value among a push method's parameters.
pub const RETURN_PARAM: &str = "ret";

pub struct PushParam {
    pub ident: Ident,
    pub ty: Type,
}

pub struct PushMethodModel {
    pub ident: Ident,
    /// The variant of `{Trait}Event`.
    pub variant: Ident,
    /// In order: `ret` (tag 0) if present, then the out-parameters (tags 1, 2, ...).
    pub params: Vec<PushParam>,
    /// Whether the first parameter is `ret`, at tag 0.
    pub has_ret: bool,
    /// Where the method takes the whole `&PushMessage` (its origin, its context), if it does:
    /// its position among the parameters after `&self`. Not on the wire.
    pub message_index: Option<usize>,
    /// The method's docs and `#[allow]`s, repeated on the sender's methods and the event.
    pub attrs: Vec<syn::Attribute>,
    /// The push's wire name and values.
    pub function: FunctionModel,
}

pub struct PushModel {
    pub item: ItemTrait,
    pub krate: Path,
    pub methods: Vec<PushMethodModel>,
    pub sender_ident: Ident,
    pub event_ident: Ident,
    pub callback_ident: Ident,
}

impl PushModel {
    pub fn build(args: InterfaceArgs, parsed: ParsedTrait) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let item = parsed.item;
        if !item.generics.params.is_empty() {
            errors.push(syn::Error::new(
                item.generics.span(),
                "a TARS push interface cannot be generic; remove the type parameters",
            ));
        }
        let krate = args.krate.unwrap_or_else(|| syn::parse_quote!(::tars_rpc));
        let mut methods = Vec::new();
        for method in parsed.methods {
            methods.extend(PushMethodModel::build(&item.ident, method, &mut errors));
        }
        check_method_wire_names(
            methods.iter().map(|method: &PushMethodModel| {
                (&method.ident, method.function.wire_name.as_str())
            }),
            &mut errors,
        );
        let name = &item.ident;
        errors.finish(Self {
            sender_ident: format_ident!("{name}Sender"),
            event_ident: format_ident!("{name}Event"),
            callback_ident: format_ident!("{name}Callback"),
            item,
            krate,
            methods,
        })
    }
}

impl PushMethodModel {
    fn build(trait_ident: &Ident, parsed: ParsedMethod, errors: &mut Errors) -> Option<Self> {
        let sig = &parsed.item.sig;
        let before = errors.count();
        check_push_shape(trait_ident, &parsed, errors);
        let message_index = message_param(&parsed.params, errors);
        let wire: Vec<&ParsedParam> = (parsed.params.iter())
            .filter(|param| !is_message_param(param))
            .collect();
        let params: Vec<_> = (wire.iter().enumerate())
            .filter_map(|(index, param)| push_param(index, param, errors))
            .collect();
        let has_ret = (wire.first()).is_some_and(|param| param.ident == RETURN_PARAM);
        if has_ret {
            check_no_wire_name(
                wire[0],
                "the return value `ret` is known by its tag, 0, not by a name",
                errors,
            );
        }
        let values = wire_values(sig, &wire[usize::from(has_ret)..], errors);
        if errors.count() > before {
            return None;
        }
        // TarsCpp writes every value of a push, defaults included: all are out-parameters
        let ret = has_ret.then(|| (Slot::Out, params[0].ty.clone()));
        let function = FunctionModel::new(trait_ident, sig, method_wire_name(&parsed), ret, values);
        Some(Self {
            variant: format_ident!("{}", upper_camel_case(&sig.ident.to_string())),
            ident: sig.ident.clone(),
            attrs: forwarded_attrs(&parsed),
            params,
            has_ret,
            message_index,
            function,
        })
    }
}

/// What every push method must be: an `async fn` of `&self` returning nothing.
fn check_push_shape(trait_ident: &Ident, parsed: &ParsedMethod, errors: &mut Errors) {
    if let Some(span) = parsed.on_close {
        errors.push(syn::Error::new(
            span,
            "`#[tars(on_close)]` belongs on a `#[tars_interface]` trait, not a push interface",
        ));
    }
    check_method_shape(
        trait_ident,
        parsed,
        &MethodRole {
            plural: "push callbacks",
            declares: "the pushes",
            implementor: "YourCallback",
            singular: "a push callback",
        },
        errors,
    );
    check_returns_nothing(&parsed.item.sig.output, errors);
}

/// The values at tags 1, 2, ... (all but `ret`), with their wire names.
fn wire_values(
    sig: &syn::Signature,
    params: &[&ParsedParam],
    errors: &mut Errors,
) -> Vec<WireValue> {
    let values: Vec<_> = params
        .iter()
        .map(|param| WireValue {
            slot: Slot::Out,
            ty: param.ty.clone(),
            wire_name: param_wire_name(param),
        })
        .collect();
    let names: Vec<_> = params
        .iter()
        .zip(&values)
        .map(|(param, value)| (&param.ident, value.wire_name.as_str()))
        .collect();
    check_wire_params(sig, &names, errors);
    values
}

fn check_returns_nothing(output: &ReturnType, errors: &mut Errors) {
    match output {
        ReturnType::Default => {}
        ReturnType::Type(_, ty) if matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()) => {}
        ReturnType::Type(_, ty) => errors.push(syn::Error::new(
            ty.span(),
            "a push callback returns nothing: the pushed return value is its first parameter, named `ret`",
        )),
    }
}

/// The position of the `&PushMessage` parameter, if there is one: taken once, not on the wire,
/// named by nothing.
fn message_param(params: &[ParsedParam], errors: &mut Errors) -> Option<usize> {
    let mut found = None;
    for (index, param) in params.iter().enumerate() {
        let Type::Reference(reference) = &param.ty else {
            continue;
        };
        if !is_message_param(param) {
            continue;
        }
        if reference.mutability.is_some() {
            errors.push(syn::Error::new(
                param.ty.span(),
                "a push callback reads the push: write `&PushMessage`, not `&mut PushMessage`",
            ));
        }
        check_no_wire_name(param, "`&PushMessage` is not on the wire", errors);
        if found.is_some() {
            errors.push(syn::Error::new(param.span, "take `&PushMessage` once"));
        } else {
            found = Some(index);
        }
    }
    found
}

/// Whether `param` is a reference to a `PushMessage`, recognised by the type's last segment as
/// `&Current` is.
fn is_message_param(param: &ParsedParam) -> bool {
    matches!(&param.ty, Type::Reference(reference) if matches!(&*reference.elem,
        Type::Path(path) if path.qself.is_none()
            && path.path.segments.last().is_some_and(|segment| segment.ident == "PushMessage")))
}

/// A value of a push: taken by value, of a TARS type; `ret` only first.
fn push_param(index: usize, param: &ParsedParam, errors: &mut Errors) -> Option<PushParam> {
    if let Type::Reference(reference) = &param.ty {
        let elem = &reference.elem;
        errors.push(syn::Error::new(
            param.ty.span(),
            format!(
                "a push callback receives its values by value: write `{}: {}` (the one reference it may take is `&PushMessage`, the whole push)",
                param.ident,
                quote::quote!(#elem).to_string().replace(' ', "")
            ),
        ));
        return None;
    }
    if param.ident == RETURN_PARAM && index != 0 {
        errors.push(syn::Error::new(
            param.ident.span(),
            "the pushed return value `ret` (tag 0) must be the first parameter",
        ));
    }
    if let Some(error) = unsupported_type(&param.ty) {
        errors.push(error);
    }
    Some(PushParam {
        ident: param.ident.clone(),
        ty: param.ty.clone(),
    })
}
