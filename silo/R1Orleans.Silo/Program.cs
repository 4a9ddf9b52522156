using R1Orleans.Silo;

return await SiloHost.RunAsync(args).ConfigureAwait(false);
