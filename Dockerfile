# The ChainMargin service image (used by docker-compose.yml).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/ChainMargin.Host -c Release -o /out

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /out .
COPY config ./config
COPY ChainMargin.sln ./
ENV CHAINMARGIN_CONFIG_DIR=/app/config
ENTRYPOINT ["dotnet", "chainmargin.dll", "serve"]
