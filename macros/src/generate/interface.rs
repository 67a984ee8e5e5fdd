//! Writes the output of `#[tars_interface]`: the trait (its `async fn`s made `Send`), the
//! server adapter `{Trait}Servant<T>`, the client proxy `{Trait}Proxy`, and per method the
//! hidden `Function` marker through which both encode and decode its parameters.
//!
//! One function per item generated, as tarpc's `ServiceGenerator` does.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, TraitItem};

use super::function::{allows, at_params, marker, nest};
use crate::model::interface::{InterfaceModel, MethodModel, ParamKind};

pub fn interface(model: &InterfaceModel) -> TokenStream {
    let krate = &model.krate;
    let generator = InterfaceGenerator {
        model,
        p: quote!(#krate::__private),
    };
    let markers = model
        .methods
        .iter()
        .map(|method| marker(&method.function, &generator.p));
    let items = [
        send_trait(&model.item),
        generator.servant_struct(),
        generator.servant_constructors(),
        generator.servant_clone(),
        generator.impl_servant(),
        generator.proxy_struct(),
        generator.impl_proxy(),
        generator.proxy_methods(),
    ];
    quote!(#(#items)* #(#markers)*)
}

/// The trait as written, with `Send + Sync + 'static` supertraits and each `async fn` turned
/// into `fn -> impl Future + Send`, so the server can run handlers on any thread. Implementors
/// still write `async fn`.
pub fn send_trait(item: &syn::ItemTrait) -> TokenStream {
    let mut item = item.clone();
    item.supertraits
        .push(syn::parse_quote!(::core::marker::Send));
    item.supertraits
        .push(syn::parse_quote!(::core::marker::Sync));
    item.supertraits.push(syn::parse_quote!('static));
    for trait_item in &mut item.items {
        if let TraitItem::Fn(method) = trait_item {
            let sig = &mut method.sig;
            sig.asyncness = None;
            let output = match &sig.output {
                syn::ReturnType::Type(_, ty) => quote!(#ty),
                syn::ReturnType::Default => quote!(()),
            };
            sig.output = syn::parse_quote! {
                -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
            };
        }
    }
    quote!(#item)
}

/// The local holding a method's return value, in the servant and in the proxy.
fn ret_ident() -> Ident {
    format_ident!("__ret")
}

struct InterfaceGenerator<'a> {
    model: &'a InterfaceModel,
    /// `{crate}::__private`.
    p: TokenStream,
}

impl InterfaceGenerator<'_> {
    fn servant_struct(&self) -> TokenStream {
        let vis = &self.model.item.vis;
        let trait_ident = &self.model.item.ident;
        let servant = &self.model.servant_ident;
        let p = &self.p;
        let doc = format!(
            "Serves an implementation of [`{trait_ident}`]: dispatches requests to its methods by their wire names.\n\n\
             Register it with `Server::builder().servant(name, endpoint, {servant}::new(implementation))`."
        );
        quote! {
            #[doc = #doc]
            #[derive(::core::fmt::Debug)]
            #vis struct #servant<T>(#p::Arc<T>);
        }
    }

    fn servant_constructors(&self) -> TokenStream {
        let (trait_ident, servant, p) =
            (&self.model.item.ident, &self.model.servant_ident, &self.p);
        quote! {
            impl<T: #trait_ident> #servant<T> {
                /// Serves `implementation`.
                pub fn new(implementation: T) -> Self {
                    Self(#p::Arc::new(implementation))
                }

                /// Serves an implementation that is shared elsewhere too.
                pub fn from_arc(implementation: #p::Arc<T>) -> Self {
                    Self(implementation)
                }
            }
        }
    }

    /// `Clone` without `T: Clone`: the implementation is shared.
    fn servant_clone(&self) -> TokenStream {
        let (servant, p) = (&self.model.servant_ident, &self.p);
        quote! {
            impl<T> #p::Clone for #servant<T> {
                fn clone(&self) -> Self {
                    Self(#p::Clone::clone(&self.0))
                }
            }
        }
    }

    fn impl_servant(&self) -> TokenStream {
        let (trait_ident, servant, p) =
            (&self.model.item.ident, &self.model.servant_ident, &self.p);
        let arms = self
            .model
            .methods
            .iter()
            .map(|method| self.dispatch_arm(method));
        let on_close = self.on_close();
        quote! {
            impl<T: #trait_ident> #p::Servant for #servant<T> {
                fn dispatch<'a>(
                    &'a self,
                    __current: &'a #p::Current,
                    __params: #p::Bytes,
                ) -> #p::BoxFuture<'a, #p::RpcResult<#p::Bytes>> {
                    match #p::Current::func_name(__current) {
                        #(#arms)*
                        _ => #p::unknown_function(__current),
                    }
                }

                #on_close
            }
        }
    }

    /// Decodes the parameters, calls the method, encodes the return value and out-parameters.
    fn dispatch_arm(&self, method: &MethodModel) -> TokenStream {
        let p = &self.p;
        let trait_ident = &self.model.item.ident;
        let (method_ident, marker) = (&method.ident, &method.function.marker);
        let wire_name = &method.function.wire_name;
        let ret = ret_ident();
        let bindings = nest(
            wire_params(method)
                .map(|(kind, ident)| match kind {
                    ParamKind::Out => quote!(mut #ident),
                    _ => quote!(#ident),
                })
                .collect(),
        );
        let call_args = method.params.iter().map(|param| {
            let ident = &param.ident;
            match param.kind {
                ParamKind::In => quote!(#ident),
                ParamKind::Out => quote!(&mut #ident),
                ParamKind::Current => quote!(__current),
            }
        });
        let call = quote!(<T as #trait_ident>::#method_ident(&self.0, #(#call_args),*).await?);
        let (run, ret_arg) = match method.ret {
            Some(_) => (quote!(let #ret = #call;), quote!(&#ret)),
            None => (quote!(#call;), quote!(())),
        };
        let reply_args = nest(
            wire_params(method)
                .map(|(kind, ident)| match kind {
                    ParamKind::Out => quote!(&#ident),
                    _ => quote!(()),
                })
                .collect(),
        );
        let decode = at_params(
            &method.function,
            quote!(let #bindings = #p::decode_request::<#marker>(__current, &__params)?;),
        );
        let encode = at_params(
            &method.function,
            quote!(#p::encode_reply::<#marker>(__current, #ret_arg, #reply_args)),
        );
        quote! {
            #wire_name => #p::Box::pin(async move {
                #decode
                #run
                #encode
            }),
        }
    }

    fn on_close(&self) -> Option<TokenStream> {
        let (trait_ident, p) = (&self.model.item.ident, &self.p);
        let hook = self.model.on_close.as_ref()?;
        Some(quote! {
            fn on_connection_closed<'a>(
                &'a self,
                current: &'a #p::Current,
            ) -> #p::BoxFuture<'a, ()> {
                #p::Box::pin(<T as #trait_ident>::#hook(&self.0, current))
            }
        })
    }

    fn proxy_struct(&self) -> TokenStream {
        let vis = &self.model.item.vis;
        let trait_ident = &self.model.item.ident;
        let proxy = &self.model.proxy_ident;
        let p = &self.p;
        let doc = format!(
            "A client of a [`{trait_ident}`] servant: one async method per interface method, plus a `_oneway` variant.\n\n\
             Get one with `Communicator::string_to_proxy::<{proxy}>(\"App.Server.Obj@tcp -h HOST -p PORT\")`. \
             An out-parameter comes back in the result, after the return value: `Result<(ret, out1, out2, ...)>`. \
             `with_timeout`, `with_context`, `on_connect`, `set_push_handler`, `push_stream`, `connect` and the rest \
             come from the `TypedProxy` trait."
        );
        quote! {
            #[doc = #doc]
            #[derive(::core::clone::Clone, ::core::fmt::Debug)]
            #vis struct #proxy {
                inner: #p::ServantProxy,
            }
        }
    }

    fn impl_proxy(&self) -> TokenStream {
        let (proxy, p) = (&self.model.proxy_ident, &self.p);
        quote! {
            impl #p::TypedProxy for #proxy {
                fn from_proxy(inner: #p::ServantProxy) -> Self {
                    Self { inner }
                }

                fn proxy(&self) -> &#p::ServantProxy {
                    &self.inner
                }
            }
        }
    }

    fn proxy_methods(&self) -> TokenStream {
        let proxy = &self.model.proxy_ident;
        let methods = self.model.methods.iter().map(|method| {
            let call = self.proxy_call(method);
            let oneway = self.proxy_oneway(method);
            quote!(#call #oneway)
        });
        quote! {
            impl #proxy {
                #(#methods)*
            }
        }
    }

    /// Calls the method: the inputs in, the return value and out-parameters back.
    fn proxy_call(&self, method: &MethodModel) -> TokenStream {
        let p = &self.p;
        let (method_ident, marker, attrs) = (&method.ident, &method.function.marker, &method.attrs);
        let inputs = inputs(method);
        let ret = method.ret.as_ref().map(|_| ret_ident());
        let ret_pattern = ret.as_ref().map_or_else(|| quote!(()), |ret| quote!(#ret));
        let outs_pattern = nest(
            wire_params(method)
                .map(|(kind, ident)| match kind {
                    ParamKind::Out => quote!(#ident),
                    _ => quote!(()),
                })
                .collect(),
        );
        let outs = method
            .params
            .iter()
            .filter(|param| param.kind == ParamKind::Out);
        let mut output_types: Vec<_> = method.ret.iter().map(|ty| quote!(#ty)).collect();
        output_types.extend(outs.clone().map(|param| {
            let ty = &param.ty;
            quote!(#ty)
        }));
        let mut output_values: Vec<_> = ret.iter().map(|ret| quote!(#ret)).collect();
        output_values.extend(outs.map(|param| {
            let ident = &param.ident;
            quote!(#ident)
        }));
        let (output_type, output_value) = match output_types.len() {
            1 => (output_types.remove(0), output_values.remove(0)),
            _ => (quote!((#(#output_types),*)), quote!((#(#output_values),*))),
        };
        let args = request_args(method);
        let call = at_params(
            &method.function,
            quote!(let (#ret_pattern, #outs_pattern) = #p::invoke::<#marker>(&self.inner, #args).await?;),
        );
        quote! {
            #(#attrs)*
            pub async fn #method_ident(&self, #(#inputs),*) -> #p::RpcResult<#output_type> {
                #call
                #p::Ok(#output_value)
            }
        }
    }

    fn proxy_oneway(&self, method: &MethodModel) -> TokenStream {
        let p = &self.p;
        let marker = &method.function.marker;
        let oneway_ident = format_ident!("{}_oneway", method.ident);
        let inputs = inputs(method);
        let args = request_args(method);
        let doc = format!(
            "Calls `{}` one-way: the request is sent and no reply is awaited (out-parameters and the return value are lost).",
            method.function.wire_name
        );
        let call = at_params(
            &method.function,
            quote!(#p::invoke_oneway::<#marker>(&self.inner, #args).await),
        );
        let allows = allows(&method.attrs);
        quote! {
            #[doc = #doc]
            #(#allows)*
            pub async fn #oneway_ident(&self, #(#inputs),*) -> #p::RpcResult<()> {
                #call
            }
        }
    }
}

/// The parameters on the wire, in tag order: their kinds and names.
fn wire_params(method: &MethodModel) -> impl Iterator<Item = (ParamKind, &Ident)> {
    method
        .params
        .iter()
        .filter(|param| param.kind != ParamKind::Current)
        .map(|param| (param.kind, &param.ident))
}

/// The proxy method's parameters: the inputs.
fn inputs(method: &MethodModel) -> Vec<TokenStream> {
    method
        .params
        .iter()
        .filter(|param| param.kind == ParamKind::In)
        .map(|param| {
            let (ident, ty) = (&param.ident, &param.ty);
            quote!(#ident: #ty)
        })
        .collect()
}

/// What the request encodes: references to the inputs, `()` for the out-parameters (sent empty).
fn request_args(method: &MethodModel) -> TokenStream {
    nest(
        wire_params(method)
            .map(|(kind, ident)| match kind {
                ParamKind::In => quote!(&#ident),
                _ => quote!(()),
            })
            .collect(),
    )
}
