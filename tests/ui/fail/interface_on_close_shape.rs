#[tars_rpc::tars_interface]
trait Hello {
    #[tars(on_close)]
    async fn closed(&self, id: i32) -> tars_rpc::Result<()>;

    #[tars(on_close)]
    fn also_closed(&self, current: &tars_rpc::Current);
}

fn main() {}
