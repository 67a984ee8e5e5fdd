use std::collections::HashMap;

use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::{tars_interface, Current, TarsStruct};

#[derive(TarsStruct, Debug, Default, PartialEq)]
pub struct Item {
    #[tars(tag = 0)]
    id: i64,
}

#[tars_interface]
pub trait Shapes {
    async fn none(&self) -> tars_rpc::Result<()>;
    async fn ret_only(&self, a: i32) -> tars_rpc::Result<String>;
    async fn out_only(&self, out: &mut Vec<Item>) -> tars_rpc::Result<()>;
    async fn two_outs(&self, a: &mut i8, b: &mut HashMap<String, Item>) -> tars_rpc::Result<()>;
    async fn everything(&self, current: &Current, x: Option<i32>, y: &mut bool, z: Item) -> tars_rpc::Result<Item>;
    #[tars(name = "Custom_Name")]
    async fn renamed(&self) -> Result<i32, tars_rpc::Error>;
}

struct Imp;

impl Shapes for Imp {
    async fn none(&self) -> tars_rpc::Result<()> {
        Ok(())
    }
    async fn ret_only(&self, a: i32) -> tars_rpc::Result<String> {
        Ok(a.to_string())
    }
    async fn out_only(&self, out: &mut Vec<Item>) -> tars_rpc::Result<()> {
        out.push(Item { id: 1 });
        Ok(())
    }
    async fn two_outs(&self, a: &mut i8, _b: &mut HashMap<String, Item>) -> tars_rpc::Result<()> {
        *a = 1;
        Ok(())
    }
    async fn everything(&self, current: &Current, _x: Option<i32>, y: &mut bool, z: Item) -> tars_rpc::Result<Item> {
        *y = current.is_oneway();
        Ok(z)
    }
    async fn renamed(&self) -> Result<i32, tars_rpc::Error> {
        Ok(0)
    }
}

async fn client(proxy: ShapesProxy) -> tars_rpc::Result<()> {
    let () = proxy.none().await?;
    let _: String = proxy.ret_only(1).await?;
    let _: Vec<Item> = proxy.out_only().await?;
    let (_, _): (i8, HashMap<String, Item>) = proxy.two_outs().await?;
    let (_, _): (Item, bool) = proxy.everything(None, Item::default()).await?;
    let _: i32 = proxy.renamed().await?;
    proxy.ret_only_oneway(2).await?;
    Ok(())
}

fn main() {
    let _servant = ShapesServant::new(Imp);
    let proxy: ShapesProxy = Communicator::new().string_to_proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    let _ = proxy.proxy().servant_name();
    drop(client(proxy));
}
